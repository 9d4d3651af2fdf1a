// The promotion gate as a step: refuse what did not verify in lab, say what prod gets in a
// person's terms, and ask (promote, show a host's rendered config diff, or decline).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expectedOutputs } from '../render';
import { renderedDir, stateRoot } from '../shared/paths';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step, StepTask } from '../ui/listr';
import type { Choice } from '../ui/prompts';
import { storesOf, type Choose, type PromoteContext, type PromoteOptions } from './context';
import { stageFacts } from './facts';
import { checkPromotion } from './gate';
import { compareRendered, partDiff, type RenderedComparison } from './rendered';
import { shortSummary, summaryLines } from './summary';

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

export function promotionGate(opts: PromoteOptions): Step<PromoteContext> {
  return {
    title: 'Promotion gate: prod only receives what verified in lab',
    task: async (ctx, task) => {
      if (!ctx.site) throw new Error('the site was not loaded');
      const run = ctx.runs.prod!;
      const check = await checkPromotion(run.snapshot, storesOf(ctx, opts), stageFacts(ctx.site, 'prod'));
      if (!check.allowed && !opts.force) {
        throw new HomeprodError(`refusing to promote to prod: ${check.reason}`, EXIT.refused, 'run npx tsx tasks/up.ts --stage lab first (or pass --force to promote unverified content)');
      }
      const notes = [
        ...(check.allowed ? [] : [`WARNING: --force promotes content that did not verify in lab: ${check.reason}`]),
        ...(check.bootstrap ? ['First run: prod receives what lab was configured with; lab is verified through the passthrough right after'] : []),
      ];
      const what = run.unchanged ? 'nothing changes in prod' : shortSummary(check.summary);
      const summary = [...notes, ...(run.unchanged ? [] : summaryLines(check.summary))];
      if (run.unchanged || opts.dryRun || opts.yes) {
        if (summary.length) task.output = summary.join('\n');
        task.title = `Promotion to prod: ${what}${opts.yes && !run.unchanged ? ' (--yes)' : ''}`;
        return;
      }
      if (!opts.choose) throw new HomeprodError(`promotion to prod needs a confirmation (${what}), and there is no terminal to ask`, EXIT.refused, 'pass --yes to promote without asking');
      const root = stateRoot(opts.env);
      const comparison = compareRendered(ctx.site, 'prod', ctx.outputs ?? expectedOutputs(ctx.site, 'prod'), renderedDir(root, 'prod'));
      await ask(task, opts.choose, [...summary, renderedLine(comparison)], comparison, join(root, 'promote'));
      task.title = `Promoted to prod: ${what}`;
    },
  };
}
