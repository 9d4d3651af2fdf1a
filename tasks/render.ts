// Renders one stage's Ansible inventory and nginx configs into a directory, for inspection
// or for the configure step.
import { helpText, oneOf, parseFlags, runMain } from './lib/cli';
import { EXIT, HomeprodError } from './lib/errors';
import { DEFAULT_SITE_FILE, loadSite, STAGES } from './lib/model/index';
import { runSteps } from './lib/listr';
import { outputsFromModel, readOutputsFile, renderSteps, type RenderContext } from './lib/render/index';

const spec = {
  usage: 'npx tsx tasks/render.ts --stage lab|prod --out DIR [--site FILE] [--outputs FILE]',
  summary:
    'Render the stage\'s Ansible inventory (<out>/inventory/hosts.yml) and the nginx configs of its passthrough and\n' +
    'stage proxies (<out>/hosts/<host>/nginx/), with certificate paths as the hosts have them. DIR is replaced.\n' +
    'Without --outputs the host addresses come from the site model (the addresses terraform will output);\n' +
    'hosts that take DHCP addresses then need --outputs.',
  options: {
    stage: { type: 'string' },
    out: { type: 'string' },
    site: { type: 'string' },
    outputs: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  optionHelp: {
    stage: 'lab or prod',
    out: 'output directory (replaced as a whole)',
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    outputs: 'JSON of the applied hosts: a HostOutput list, or stack name -> `terraform output -json`',
    verbose: 'plain step output',
  },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  const stage = oneOf('stage', values.stage, STAGES);
  if (!values.out) throw new HomeprodError('--out DIR is required', EXIT.usage, 'see npx tsx tasks/render.ts --help');
  const site = loadSite(values.site ?? DEFAULT_SITE_FILE);
  const outputs = values.outputs ? readOutputsFile(values.outputs) : outputsFromModel(site);
  const ctx: RenderContext = { site, outputs };
  await runSteps(renderSteps(stage, { outDir: values.out }), ctx, { verbose: values.verbose });
  for (const file of ctx.rendered?.[stage]?.files ?? []) out.line(`  ${file}`);
});
