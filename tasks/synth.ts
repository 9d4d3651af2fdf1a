// Writes one stage's Terraform stacks (one per VM and data VM) to cdktf.out/stacks/.
import { helpText, oneOf, parseFlags, runMain } from './lib/cli';
import { runSteps } from './lib/listr';
import { DEFAULT_SITE_FILE, loadSite, PLATFORMS, STAGES } from './lib/model/index';
import { describeStacks, synthSteps, type SynthContext } from './lib/synth';

const spec = {
  usage: 'npx tsx tasks/synth.ts --stage lab|prod [--platform proxmox|local] [--site FILE]',
  summary:
    'Synthesize the stage\'s stacks to cdktf.out/stacks/<stack>/cdk.tf.json, one per VM (<host>-vm) and data VM\n' +
    '(<host>-data-vm), and print one line per stack. Policy violations fail synthesis and write nothing.',
  options: {
    stage: { type: 'string' },
    platform: { type: 'string' },
    site: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  optionHelp: {
    stage: 'lab or prod',
    platform: 'proxmox or local (default: the stage\'s platform in the site file)',
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    verbose: 'plain step output',
  },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  const stage = oneOf('stage', values.stage, STAGES);
  const platform = values.platform === undefined ? undefined : oneOf('platform', values.platform, PLATFORMS);
  const ctx: SynthContext = { site: loadSite(values.site ?? DEFAULT_SITE_FILE) };
  await runSteps(synthSteps(stage, { platform }), ctx, { verbose: values.verbose });
  const result = ctx.synth?.[stage];
  if (result) for (const line of describeStacks(result)) out.line(line);
});
