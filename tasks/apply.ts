// Synthesizes one stage's stacks and applies (or destroys) them with real Terraform, data
// disks first, with one line of plan summary per stack.
import { join } from 'node:path';
import { applySteps, type ApplyContext } from './lib/apply';
import { helpText, oneOf, parseFlags, runMain } from './lib/cli';
import { EXIT, HomeprodError } from './lib/errors';
import { stateRoot } from './lib/keys';
import { runSteps } from './lib/listr';
import { acquireLock } from './lib/lock';
import { DEFAULT_SITE_FILE, loadSite, STAGES } from './lib/model/index';
import { canPrompt, confirmInTask } from './lib/prompts';

const spec = {
  usage: 'npx tsx tasks/apply.ts --stage lab|prod [--destroy [--destroy-data]] [--allow-data-loss] [--dry-run] [--yes] [--site FILE] [--verbose]',
  summary:
    'Synthesize the stage\'s stacks and apply them with Terraform in dependency order (data disks first), printing\n' +
    'one line of plan summary per stack; then read every VM\'s `host` output. Stops before anything is applied when a\n' +
    'plan would destroy or replace a data disk or data VM. The VM of a host deleted from the site is destroyed; its data\n' +
    'disk is kept. With --destroy: destroy the VMs in reverse order and keep the data disks.\n' +
    'Terraform downloads nothing: Proxmox stages need the bpg/proxmox provider in .cache/terraform/providers\n' +
    '(or HOMEPROD_TF_PLUGIN_DIR, or HOMEPROD_TF_REGISTRY=direct) and a reachable cluster. HOMEPROD_TF picks terraform or tofu.',
  options: {
    stage: { type: 'string' },
    destroy: { type: 'boolean' },
    'destroy-data': { type: 'boolean' },
    'allow-data-loss': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    site: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  optionHelp: {
    stage: 'lab or prod',
    destroy: 'destroy the stage\'s VMs instead of applying',
    'destroy-data': 'with --destroy: destroy the data disks too (their data is lost)',
    'allow-data-loss': 'apply even when a plan destroys or replaces a data disk or data VM',
    'dry-run': 'plan only; change nothing',
    yes: 'do not ask for confirmation (required without a terminal)',
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    verbose: 'plain, line-by-line output including Terraform\'s',
  },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  const stage = oneOf('stage', values.stage, STAGES);
  if (values['destroy-data'] && !values.destroy) throw new HomeprodError('--destroy-data only goes with --destroy', EXIT.usage);
  const site = loadSite(values.site ?? DEFAULT_SITE_FILE);
  const lock = values['dry-run'] ? null : acquireLock(join(stateRoot(), 'run.lock'), 'homeprod run');
  try {
    const ctx = await runSteps<ApplyContext>(
      applySteps({
        stage,
        site,
        destroy: values.destroy,
        destroyData: values['destroy-data'],
        allowDataLoss: values['allow-data-loss'],
        dryRun: values['dry-run'],
        yes: values.yes,
        confirm: canPrompt() ? (task, message) => confirmInTask(task, message) : undefined,
      }),
      {},
      { verbose: values.verbose },
    );
    const result = ctx.applied?.[stage];
    if (!result || values.destroy) return;
    out.line();
    for (const host of result.outputs) {
      const disks = host.data_disks.map((d) => `${d.label}→${d.mountpoint}${d.read_only ? ' (ro)' : ''}`).join(', ');
      out.line(`${host.name.padEnd(24)} ${host.ipv4.padEnd(15)} vmid ${host.vmid}${disks ? `  ${disks}` : ''}`);
    }
  } finally {
    lock?.release();
  }
});
