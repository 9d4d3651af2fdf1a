// Writes one stage's Terraform stacks (one per VM and data VM) to cdktf.out/stacks/.
import { loadSite, PLATFORMS } from './lib/model/index';
import { acquireSiteLock } from './lib/shared/run-lock';
import { describeStacks, synthSteps, type SynthContext } from './lib/synth';
import { command, oneOf, oneStage, siteFile, siteFlag, stageFlag, verboseFlag } from './lib/ui/cli';
import { runSteps } from './lib/ui/listr';

const spec = {
  usage: 'npx tsx tasks/synth.ts --stage lab|prod [--platform proxmox|local] [--site FILE]',
  summary:
    'Synthesize the stage\'s stacks to cdktf.out/stacks/<stack>/cdk.tf.json, one per VM (<host>-vm) and data VM\n' +
    '(<host>-data-vm), and print one line per stack. Policy violations fail synthesis and write nothing.\n' +
    'It takes the site\'s run lock, as apply and up do, so it never rewrites stacks a running apply reads (exit 5).',
  flags: {
    ...stageFlag(),
    platform: { type: 'string', help: 'proxmox or local (default: the stage\'s platform in the site file)' },
    ...siteFlag,
    ...verboseFlag('plain step output'),
  },
} as const;

await command(spec, async (values, out) => {
  const stage = oneStage(values);
  const platform = values.platform === undefined ? undefined : oneOf('platform', values.platform, PLATFORMS);
  const ctx: SynthContext = { site: loadSite(siteFile(values)) };
  const lock = await acquireSiteLock(ctx.site!, { say: (line) => out.line(line) });
  try {
    await runSteps(synthSteps(stage, { platform }), ctx, { verbose: values.verbose });
  } finally {
    lock.release();
  }
  const result = ctx.synth?.[stage];
  if (result) for (const line of describeStacks(result)) out.line(line);
});
