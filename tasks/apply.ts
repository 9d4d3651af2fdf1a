// Synthesizes one stage's stacks and applies (or destroys) them with real Terraform, data
// disks first, with one line of plan summary per stack.
import { applySteps, type ApplyContext } from './lib/apply';
import { loadSite } from './lib/model/index';
import { acquireSiteLock } from './lib/shared/run-lock';
import { command, insecureFlag, oneStage, siteFile, siteFlag, stageFlag, verboseFlag, yesFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { runSteps } from './lib/ui/listr';
import { canPrompt, confirmInTask } from './lib/ui/prompts';

const spec = {
  usage: 'npx tsx tasks/apply.ts --stage lab|prod [--destroy [--destroy-data]] [--allow-data-loss] [--dry-run] [--yes] [--insecure] [--site FILE] [--verbose]',
  summary:
    'Synthesize the stage\'s stacks and apply them with Terraform in dependency order (data disks first), printing\n' +
    'one line of plan summary per stack; then read every VM\'s `host` output. Stops before anything is applied when a\n' +
    'plan would destroy or replace a data disk or data VM. The VM of a host deleted from the site is destroyed; its data\n' +
    'disk is kept. With --destroy: destroy the VMs in reverse order and keep the data disks.\n' +
    'A Proxmox stage is checked first as `tasks/doctor.ts` does (API, token PROXMOX_VE_API_TOKEN, datastores,\n' +
    'privileges, images, provider, SSH to the node); on any problem nothing is planned (exit 3).\n' +
    'Terraform downloads nothing: Proxmox stages need the bpg/proxmox provider in .cache/terraform/providers\n' +
    '(or HOMEPROD_TF_PLUGIN_DIR, or HOMEPROD_TF_REGISTRY=direct). HOMEPROD_TF picks terraform or tofu.',
  flags: {
    ...stageFlag(),
    destroy: { type: 'boolean', help: 'destroy the stage\'s VMs instead of applying' },
    'destroy-data': { type: 'boolean', help: 'with --destroy: destroy the data disks too (their data is lost)' },
    'allow-data-loss': { type: 'boolean', help: 'apply even when a plan destroys or replaces a data disk or data VM' },
    'dry-run': { type: 'boolean', help: 'plan only; change nothing' },
    ...yesFlag(),
    ...insecureFlag,
    ...siteFlag,
    ...verboseFlag('also each step\'s start and every line of Terraform\'s output, labelled [stack]'),
  },
} as const;

await command(spec, async (values, out) => {
  const stage = oneStage(values);
  if (values['destroy-data'] && !values.destroy) throw new HomeprodError('--destroy-data only goes with --destroy', EXIT.usage);
  const site = loadSite(siteFile(values));
  const lock = values['dry-run'] ? null : await acquireSiteLock(site, { say: (line) => out.line(line) });
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
        insecure: values.insecure,
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
