// Configures one applied stage from its control node: render the stage's inventory and nginx
// configs, send them with ansible/ to the control node, run the playbooks there, and print
// the changed count per host (a converged stage shows 0 everywhere).
import { type ConfigureContext, configureSteps, promptPassphrase } from './lib/configure';
import { loadSite } from './lib/model/index';
import { outputsFromModel, readOutputsFile, renderSteps, type RenderContext } from './lib/render/index';
import { acquireSiteLock } from './lib/shared/run-lock';
import { renderedDir, stateRoot } from './lib/shared/paths';
import { command, oneStage, siteFile, siteFlag, stageFlag, verboseFlag, yesFlag } from './lib/ui/cli';
import { EXIT, HomeprodError } from './lib/ui/errors';
import { runSteps, type Step } from './lib/ui/listr';
import { canPrompt, confirmInTask } from './lib/ui/prompts';

const spec = {
  usage: 'npx tsx tasks/configure.ts --stage lab|prod [--yes] [--check] [--full] [--site FILE] [--outputs FILE] [--out DIR] [--verbose]',
  summary:
    'Configure an applied stage: render its inventory and nginx configs, send them with ansible/ to the stage\'s\n' +
    'control node over SSH and run ansible-playbook there with the stage\'s vault id (--vault-id <stage>@...).\n' +
    'The first run places the stage key and the vault password (HOMEPROD_VAULT_PASSWORD_<STAGE>, or the file\n' +
    'HOMEPROD_VAULT_PASSWORD_FILE_<STAGE>, else .state/vault/<stage>.pass, made once) on the node\'s data disk.\n' +
    'A node whose key is passphrase-protected and not unlocked asks for the passphrase in a terminal, and stops\n' +
    'otherwise. Without --outputs the host addresses come from the site model (what terraform outputs on the local platform).\n' +
    'Only the parts of the plays (a role each) whose inputs changed run, on the hosts they changed on (what each ran\n' +
    'with is recorded per host); --full runs every play on every host, which also repairs drift no input shows.',
  flags: {
    ...stageFlag(),
    ...yesFlag(),
    check: { type: 'boolean', help: 'ansible-playbook --check --diff: show what would change, change nothing' },
    full: { type: 'boolean', help: 'run every play on every host, not only what changed' },
    ...siteFlag,
    outputs: { type: 'string', help: 'JSON of the applied hosts: a HostOutput list, or stack name -> `terraform output -json`' },
    out: { type: 'string', help: 'render directory (default .state/rendered/<stage>, as up uses)' },
    ...verboseFlag('also each step\'s start and every line of ansible-playbook\'s output, labelled [stage]'),
  },
} as const;

type Ctx = ConfigureContext & RenderContext;

await command(spec, async (values, out) => {
  const stage = oneStage(values);
  const site = loadSite(siteFile(values));
  const outputs = values.outputs ? readOutputsFile(values.outputs) : outputsFromModel(site);
  const interactive = canPrompt();
  if (!values.yes && !values.check && !interactive) {
    throw new HomeprodError(`configuring ${stage} changes its hosts and needs a confirmation, but there is no terminal to ask`, EXIT.refused, 'pass --yes');
  }
  const confirmStep: Step<Ctx> = {
    title: `Confirm configuring ${stage}`,
    skip: () => (values.yes || values.check ? 'Confirmed by --yes' : false),
    task: async (_ctx, task) => {
      if (!(await confirmInTask(task, `Configure the ${stage} hosts from their control node?`))) {
        throw new HomeprodError(`configure of ${stage} cancelled`, EXIT.refused);
      }
    },
  };
  const lock = values.check ? null : await acquireSiteLock(site, { say: (line) => out.line(line) });
  try {
    const ctx = await runSteps<Ctx>(
      [
        ...(renderSteps(stage, { outDir: values.out ?? renderedDir(stateRoot(), stage) }) as Step<Ctx>[]),
        confirmStep,
        ...(configureSteps({ stage, full: values.full, askPassphrase: interactive ? promptPassphrase : undefined, extraArgs: values.check ? ['--check', '--diff'] : undefined }) as Step<Ctx>[]),
      ],
      { site, outputs },
      { verbose: values.verbose },
    );
    const result = ctx.configured?.[stage];
    if (!result) return;
    out.line();
    for (const [host, counts] of Object.entries(result.recap)) {
      out.line(`${host.padEnd(24)} ok ${String(counts.ok).padStart(3)}  changed ${String(counts.changed).padStart(3)}  skipped ${String(counts.skipped).padStart(3)}`);
    }
    const log = result.logFile ? `log: ${result.logFile}` : 'no play had anything new to do (--full runs them all)';
    out.line(`${result.changed} changed${result.caCert ? `; CA certificate: ${result.caCert}` : ''}; ${log}`);
  } finally {
    lock?.release();
  }
});
