// The main job: bring the whole site up, lab first, then the gated promotion to prod.
import { promptPassphrase } from './lib/configure';
import { loadSite } from './lib/model';
import { acquireSiteLock } from './lib/shared/run-lock';
import { storesFor } from './lib/shared/store';
import { command, insecureFlag, siteFile, siteFlag, stageFlag, stagesOf, verboseFlag, yesFlag } from './lib/ui/cli';
import { runSteps } from './lib/ui/listr';
import { canPrompt, confirmInTask, selectInTask } from './lib/ui/prompts';
import { upSteps, type UpContext } from './lib/up';
import { summaryLines } from './lib/up/summary';

const spec = {
  usage: 'npx tsx tasks/up.ts [--stage lab|prod|all] [--yes] [--dry-run] [--force] [--full] [--allow-data-loss] [--insecure] [--site FILE] [--verbose]',
  summary:
    'Bring the site up: check → synthesize → apply every stack (data disks first) → outputs → inventory → render →\n' +
    'configure from the stage\'s control node → verify, for lab, then — through the promotion gate — for prod.\n' +
    'Prod only receives content that verified in lab. A stage whose inputs are unchanged and whose plan is empty is\n' +
    'only verified; otherwise configure runs the parts of the plays whose inputs changed, on the hosts they changed on (--full: all).\n' +
    'Without a terminal (or in CI) nothing is asked: where a question would be, it stops and names the flag;\n' +
    'the output is then each step\'s result and the errors (--verbose: everything). A site whose state backend is pg keeps\n' +
    'its run records and the run lock in that PostgreSQL database too (PG* environment or a pgpass file), for every checkout.\n' +
    'A stage on Proxmox is checked first as `tasks/doctor.ts` does; on any problem nothing is planned (exit 3).',
  flags: {
    ...stageFlag('lab, prod or all (default all: lab, then prod)'),
    ...yesFlag('answer yes to every confirmation (apply, promote)'),
    'dry-run': { type: 'boolean', help: 'Terraform plan, rendered configs, Ansible check mode; change nothing' },
    force: { type: 'boolean', help: 'promote to prod content that did not verify in lab (warns)' },
    full: { type: 'boolean', help: 'configure every play on every host, not only what changed' },
    'allow-data-loss': { type: 'boolean', help: 'apply even when a plan destroys or replaces a data disk or its VM' },
    ...insecureFlag,
    ...siteFlag,
    ...verboseFlag('also each step\'s start and every line of Terraform\'s and Ansible\'s output, labelled [stack] or [stage]'),
  },
} as const;

await command(spec, async (values, out) => {
  const stages = stagesOf(values, ['lab', 'prod']);
  // The site's state backends say where the lock and the records are.
  const site = loadSite(siteFile(values));
  const lock = values['dry-run'] ? null : await acquireSiteLock(site, { say: (line) => out.line(line) });
  const interactive = canPrompt();
  try {
    const ctx = await runSteps<UpContext>(
      upSteps({
        siteFile: siteFile(values),
        stages,
        yes: Boolean(values.yes),
        dryRun: Boolean(values['dry-run']),
        force: Boolean(values.force),
        allowDataLoss: Boolean(values['allow-data-loss']),
        full: Boolean(values.full),
        stores: storesFor(site),
        insecure: Boolean(values.insecure),
        confirm: interactive ? (task, message) => confirmInTask(task, message) : undefined,
        choose: interactive ? (task, question) => selectInTask(task, question) : undefined,
        askPassphrase: interactive ? promptPassphrase : undefined,
      }),
      { siteFile: siteFile(values), outputs: [], runs: {} },
      { verbose: values.verbose },
    );
    out.line();
    for (const line of summaryLines(ctx, stages)) out.line(line);
  } finally {
    lock?.release();
  }
});
