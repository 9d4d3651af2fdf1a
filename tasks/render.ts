// Renders one stage's Ansible inventory and nginx configs into a directory, for inspection
// or for the configure step.
import { loadSite } from './lib/model/index';
import { outputsFromModel, readOutputsFile, renderSteps, type RenderContext } from './lib/render/index';
import { command, oneStage, siteFile, siteFlag, stageFlag, verboseFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { runSteps } from './lib/ui/listr';

const spec = {
  usage: 'npx tsx tasks/render.ts --stage lab|prod --out DIR [--site FILE] [--outputs FILE]',
  summary:
    'Render the stage\'s Ansible inventory (<out>/inventory/hosts.yml) and the nginx configs of its passthrough and\n' +
    'stage proxies (<out>/hosts/<host>/nginx/), with certificate paths as the hosts have them. DIR is replaced as a\n' +
    'whole; render refuses a DIR holding anything but an earlier render (marked by .homeprod-render).\n' +
    'Without --outputs the host addresses come from the site model (the addresses terraform will output);\n' +
    'hosts that take DHCP addresses then need --outputs.',
  flags: {
    ...stageFlag(),
    out: { type: 'string', help: 'output directory: new, empty or an earlier render (replaced as a whole)' },
    ...siteFlag,
    outputs: { type: 'string', help: 'JSON of the applied hosts: a HostOutput list, or stack name -> `terraform output -json`' },
    ...verboseFlag('plain step output'),
  },
} as const;

await command(spec, async (values, out) => {
  const stage = oneStage(values);
  if (!values.out) throw new HomeprodError('--out DIR is required', EXIT.usage, 'see npx tsx tasks/render.ts --help');
  const site = loadSite(siteFile(values));
  const outputs = values.outputs ? readOutputsFile(values.outputs) : outputsFromModel(site);
  const ctx: RenderContext = { site, outputs };
  await runSteps(renderSteps(stage, { outDir: values.out }), ctx, { verbose: values.verbose });
  for (const file of ctx.rendered?.[stage]?.files ?? []) out.line(`  ${file}`);
});
