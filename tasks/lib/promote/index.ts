// The promote layer: lab → prod promotion. Each stage's content is compared with its last run,
// prod passes the gate only with content that verified in lab, and a stage that verified is
// recorded as what the next stage may receive.
import type { Site, StageName } from '../model/types';
import { storesFor, type Stores } from '../shared/store';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step, StepTask } from '../ui/listr';
import { failureLines, type VerifyResult } from '../verify';
import { checkPromotion } from './gate';
import { readRecord, recordConfigured, recordVerified } from './records';
import { contentSnapshot, type ContentSnapshot } from './snapshot';

export { checkPromotion, type PromotionCheck } from './gate';
export { forgetConfigured, readRecord, recordConfigured, recordVerified, type RunRecord } from './records';
export { changedInputs, contentSnapshot, SHAPING_DIRS, type ContentSnapshot } from './snapshot';

/** What this run knows of a stage's content. */
export interface StageContent {
  snapshot: ContentSnapshot;
  /** Inputs unchanged since the stage's last verified run. */
  unchanged: boolean;
  /** Lab on the first run: verified only once prod's passthrough is up. */
  verifyDeferred?: boolean;
}

export interface PromoteContext {
  site?: Site;
  runs: Partial<Record<StageName, StageContent>>;
  verified?: Partial<Record<StageName, VerifyResult[]>>;
}

export interface PromoteOptions {
  yes: boolean;
  dryRun: boolean;
  force: boolean;
  /** Asks yes/no inside a task; absent when nobody can answer (then the flag is named). */
  confirm?: (task: StepTask<PromoteContext>, message: string) => Promise<boolean>;
  env?: NodeJS.ProcessEnv;
  /** Where each stage's records are; default: by the site's state backends (storesFor). */
  stores?: Stores;
}

/** The records' stores of this run: the ones given, or the site's. */
export const storesOf = (ctx: { site?: Site }, opts: Pick<PromoteOptions, 'env' | 'stores'>): Stores => {
  if (opts.stores) return opts.stores;
  if (!ctx.site) throw new Error('the site was not loaded');
  return storesFor(ctx.site, { env: opts.env });
};

type PromoteStep = Step<PromoteContext>;

export function compareInputs(stage: StageName, opts: Pick<PromoteOptions, 'env' | 'stores'>): PromoteStep {
  return {
    title: `Compare the ${stage} inputs with its last verified run`,
    task: async (ctx, task) => {
      if (!ctx.site) throw new Error('the site was not loaded');
      const snapshot = contentSnapshot(ctx.site);
      const last = await readRecord(storesOf(ctx, opts), 'run', stage);
      const unchanged = last?.hash === snapshot.hash;
      ctx.runs[stage] = { snapshot, unchanged };
      task.title = unchanged ? `The ${stage} inputs are unchanged since ${last!.at}` : last ? `The ${stage} inputs changed since ${last.at}` : `${stage} has no verified run yet`;
    },
  };
}

export function promotionGate(opts: PromoteOptions): PromoteStep {
  return {
    title: 'Promotion gate: prod only receives what verified in lab',
    task: async (ctx, task) => {
      const run = ctx.runs.prod!;
      const check = await checkPromotion(run.snapshot, storesOf(ctx, opts));
      if (!check.allowed && !opts.force) {
        throw new HomeprodError(`refusing to promote to prod: ${check.reason}`, EXIT.refused, 'run npx tsx tasks/up.ts --stage lab first (or pass --force to promote unverified content)');
      }
      if (!check.allowed) task.output = `WARNING: --force promotes content that did not verify in lab: ${check.reason}`;
      if (check.bootstrap) task.output = 'First run: prod receives what lab was configured with; lab is verified through the passthrough right after';
      const what = check.changes.length === 0 ? 'nothing changes in prod' : `prod changes in ${check.changes.length} input${check.changes.length === 1 ? '' : 's'}: ${check.changes.slice(0, 8).join(', ')}${check.changes.length > 8 ? ', …' : ''}`;
      if (run.unchanged || opts.dryRun || opts.yes) {
        task.title = `Promotion to prod: ${what}${opts.yes && !run.unchanged ? ' (--yes)' : ''}`;
        return;
      }
      if (!opts.confirm) throw new HomeprodError(`promotion to prod needs a confirmation (${what}), and there is no terminal to ask`, EXIT.refused, 'pass --yes to promote without asking');
      task.output = what;
      if (!(await opts.confirm(task, 'Promote to prod?'))) throw new HomeprodError('not promoted to prod: declined', EXIT.refused);
      task.title = `Promoted to prod: ${what}`;
    },
  };
}

export function recordRun(stage: StageName, opts: Pick<PromoteOptions, 'dryRun' | 'env' | 'stores'>): PromoteStep {
  return {
    title: `Record the verified ${stage} content`,
    enabled: () => !opts.dryRun,
    task: async (ctx, task) => {
      const run = ctx.runs[stage]!;
      const results = ctx.verified?.[stage];
      if (!results) {
        await recordConfigured(storesOf(ctx, opts), stage, run.snapshot);
        run.verifyDeferred = true;
        task.title = `Recorded the configured ${stage} content; it is verified once the passthrough is up`;
        return;
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new HomeprodError(`${failed.length} ${stage} check${failed.length === 1 ? '' : 's'} failed verification`, EXIT.failed, undefined, failureLines(results));
      await recordVerified(storesOf(ctx, opts), stage, run.snapshot);
      run.verifyDeferred = false;
      task.title = stage === 'lab' ? 'Recorded what verified in lab: prod may now receive it' : `Recorded the verified ${stage} content`;
    },
  };
}
