// The promotion gate as two steps. Before Terraform runs, prod's check refuses what did not
// verify in lab. After prod's plans and their data-loss check, before anything is applied, the
// gate says what prod gets in a person's terms (with what Terraform does to each host) and asks:
// promote, show a host's rendered config diff, or decline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hasWork, machinePlans, plansLine, type StageApplyResult } from '../apply';
import { expectedOutputs } from '../render';
import { renderedDir, stateRoot } from '../shared/paths';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step, StepTask } from '../ui/listr';
import type { Choice } from '../ui/prompts';
import { storesOf, type Choose, type PromoteContext, type PromoteOptions } from './context';
import { stageFacts } from './facts';
import { checkPromotion, type PromotionCheck } from './gate';
import { compareRendered, partDiff, type RenderedComparison } from './rendered';
import { hostsPhrase, shortSummary, summaryLines } from './summary';

type PromoteTask = StepTask<PromoteContext>;

const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;

function renderedLine(comparison: RenderedComparison): string {
  const changed = comparison.changes.map((c) => `${c.part} (${files(c.files.length)})`).join(', ');
  if (!comparison.hadLast) return `Rendered config: prod was not rendered on this machine before, so every file is new: ${changed}`;
  return changed ? `Rendered config changes on: ${changed}` : 'Rendered config: no prod host\'s files change';
}

/** Terminal rows a line of task output takes (indented by 4, wrapped at the terminal's width). */
const rowsOf = (line: string, columns: number) => Math.max(1, Math.ceil((line.length + 4) / columns));

/**
 * A diff taller than the terminal would lose its top (the live tree redraws in place): it is
 * cut to the rows that fit, and the whole of it is written to a file that is named.
 */
export function fitted(diff: string[], room: number, columns: number, file: string): string[] {
  let used = 1; // the line naming the file
  const shown = diff.findIndex((line) => (used += rowsOf(line, columns)) > room);
  if (shown === -1) return diff;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${diff.join('\n')}\n`, { mode: 0o600 });
  return [...diff.slice(0, Math.max(shown, 5)), `… ${diff.length - Math.max(shown, 5)} more lines; the whole diff is in ${file}`];
}

/** Asks until the answer is promote or decline; a diff shown stays under the summary. */
async function ask(task: PromoteTask, choose: Choose<PromoteContext>, summary: string[], comparison: RenderedComparison, diffDir: string): Promise<void> {
  const choices: Choice<string>[] = [
    { name: 'Promote to prod', value: 'promote' },
    ...comparison.changes.map((c) => ({ name: `Show the rendered config diff of ${c.part} (${files(c.files.length)})`, value: `diff:${c.part}` })),
    { name: 'Decline', value: 'decline' },
  ];
  task.output = summary.join('\n');
  for (;;) {
    const answer = await choose(task, { message: 'Promote to prod?', choices });
    if (answer === 'promote') return;
    if (answer === 'decline') throw new HomeprodError('not promoted to prod: declined', EXIT.refused);
    const part = answer.replace(/^diff:/, '');
    // What the terminal has left beside the title, the summary, the question and its choices.
    const [rows, columns] = [process.stdout.rows || Infinity, process.stdout.columns || 80];
    const room = rows - summary.reduce((n, line) => n + rowsOf(line, columns), 0) - choices.length - 7;
    task.output = [...summary, '', ...fitted(await partDiff(comparison, part), room, columns, join(diffDir, `${part}.diff`))].join('\n');
  }
}

/** The gate's verdict on what prod would receive; refused (exit 4) unless it verified in lab or --force. */
async function allowed(ctx: PromoteContext, opts: PromoteOptions, applied?: StageApplyResult): Promise<PromotionCheck> {
  if (!ctx.site) throw new Error('the site was not loaded');
  const machines = applied ? machinePlans(ctx.site, 'prod', applied) : undefined;
  const check = await checkPromotion(ctx.runs.prod!.snapshot, storesOf(ctx, opts), stageFacts(ctx.site, 'prod'), machines);
  if (!check.allowed && !opts.force) {
    throw new HomeprodError(`refusing to promote to prod: ${check.reason}`, EXIT.refused, 'run npx tsx tasks/up.ts --stage lab first (or pass --force to promote unverified content)');
  }
  return check;
}

/** Before Terraform runs: content that did not verify in lab stops here, before prod is even planned. */
export function promotionCheck(opts: PromoteOptions): Step<PromoteContext> {
  return {
    title: 'Check that prod may receive this content',
    task: async (ctx, task) => {
      const check = await allowed(ctx, opts);
      if (check.bootstrap) task.title = 'First run: prod may receive what lab was configured with';
      else task.title = check.allowed ? 'This content verified in lab: prod may receive it' : 'This content did not verify in lab: prod receives it only because of --force';
    },
  };
}

/** What Terraform does, under the summary (the apply's confirmation is not asked after the gate). */
function terraformLine(applied: StageApplyResult | undefined): string[] {
  if (!applied) return [];
  return [hasWork(applied) ? `Terraform: ${plansLine(Object.values(applied.plans), applied.deferred.length)}` : 'Terraform: nothing to change'];
}

/** After prod's plans and the data-loss check: say what prod gets and ask. */
export function promotionGate(opts: PromoteOptions): Step<PromoteContext> {
  return {
    title: 'Promotion gate: prod only receives what verified in lab',
    task: async (ctx, task) => {
      const run = ctx.runs.prod!;
      const applied = ctx.applied?.prod;
      const check = await allowed(ctx, opts, applied);
      const notes = [
        ...(check.allowed ? [] : [`WARNING: --force promotes content that did not verify in lab: ${check.reason}`]),
        ...(check.bootstrap ? ['First run: prod receives what lab was configured with; lab is verified through the passthrough right after'] : []),
      ];
      // Unchanged content is no promotion, but Terraform may still find a host to repair (then the apply asks).
      const drift = run.unchanged && check.summary.hosts.length > 0;
      const what = run.unchanged ? `nothing changes in prod${drift ? `, but Terraform finds ${hostsPhrase(check.summary.hosts)}` : ''}` : shortSummary(check.summary);
      const summary = [...notes, ...(run.unchanged && !drift ? [] : [...summaryLines(check.summary), ...terraformLine(applied)])];
      if (run.unchanged || opts.dryRun || opts.yes) {
        if (summary.length) task.output = summary.join('\n');
        task.title = `Promotion to prod: ${what}${opts.yes && !run.unchanged ? ' (--yes)' : ''}`;
        return;
      }
      if (!opts.choose) throw new HomeprodError(`promotion to prod needs a confirmation (${what}), and there is no terminal to ask`, EXIT.refused, 'pass --yes to promote without asking');
      const root = stateRoot(opts.env);
      const comparison = compareRendered(ctx.site!, 'prod', ctx.outputs ?? expectedOutputs(ctx.site!, 'prod'), renderedDir(root, 'prod'));
      await ask(task, opts.choose, [...summary, renderedLine(comparison)], comparison, join(root, 'promote'));
      ctx.confirmed = { ...ctx.confirmed, prod: 'Confirmed with the promotion' };
      task.title = `Promoted to prod: ${what}`;
    },
  };
}
