// The main job: bring the whole site up, lab first, then the gated promotion to prod.
import { join } from 'node:path';
import { helpText, oneOf, parseFlags, runMain } from './lib/cli';
import { stateRoot } from './lib/keys';
import { runSteps } from './lib/listr';
import { acquireLock } from './lib/lock';
import { DEFAULT_SITE_FILE, STAGES, type StageName } from './lib/model';
import { canPrompt, confirmInTask } from './lib/prompts';
import { promptPassphrase } from './lib/ansible';
import { upSteps, type UpContext } from './lib/up';
import { summaryLines } from './lib/summary';

const spec = {
  usage: 'npx tsx tasks/up.ts [--stage lab|prod|all] [--yes] [--dry-run] [--force] [--allow-data-loss] [--site FILE] [--verbose]',
  summary:
    'Bring the site up: check → synthesize → apply every stack (data disks first) → outputs → inventory → render →\n' +
    'configure from the stage\'s control node → verify, for lab, then — through the promotion gate — for prod.\n' +
    'Prod only receives content that verified in lab. A stage whose inputs are unchanged and whose plan is empty is\n' +
    'only verified. Without a terminal (or in CI) nothing is asked: where a question would be, it stops and names the flag.',
  options: {
    stage: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    'allow-data-loss': { type: 'boolean' },
    site: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  optionHelp: {
    stage: 'lab, prod or all (default all: lab, then prod)',
    yes: 'answer yes to every confirmation (apply, promote)',
    'dry-run': 'Terraform plan, rendered configs, Ansible check mode; change nothing',
    force: 'promote to prod content that did not verify in lab (warns)',
    'allow-data-loss': 'apply even when a plan destroys or replaces a data disk or its VM',
    site: `site file (default ${DEFAULT_SITE_FILE})`,
    verbose: 'plain, line-by-line output including every tool\'s',
  },
} as const;

await runMain(async (out) => {
  const { values } = parseFlags(spec);
  if (values.help) return out.line(helpText(spec));
  const which = oneOf('stage', values.stage, [...STAGES, 'all'] as const, 'all');
  const stages: StageName[] = which === 'all' ? ['lab', 'prod'] : [which];
  const lock = values['dry-run'] ? null : acquireLock(join(stateRoot(), 'run.lock'), 'homeprod run');
  const interactive = canPrompt();
  try {
    const ctx = await runSteps<UpContext>(
      upSteps({
        siteFile: values.site ?? DEFAULT_SITE_FILE,
        stages,
        yes: Boolean(values.yes),
        dryRun: Boolean(values['dry-run']),
        force: Boolean(values.force),
        allowDataLoss: Boolean(values['allow-data-loss']),
        confirm: interactive ? (task, message) => confirmInTask(task, message) : undefined,
        askPassphrase: interactive ? promptPassphrase : undefined,
      }),
      { siteFile: values.site ?? DEFAULT_SITE_FILE, outputs: [], runs: {} },
      { verbose: values.verbose },
    );
    out.line();
    for (const line of summaryLines(ctx, stages)) out.line(line);
  } finally {
    lock?.release();
  }
});
