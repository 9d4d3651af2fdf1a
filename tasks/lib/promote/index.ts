// The promote layer: lab → prod promotion. Each stage's content is compared with its last run,
// prod passes the gate only with content that verified in lab, and a stage that verified is
// recorded as what the next stage may receive.
import type { StageName } from '../model/types';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step } from '../ui/listr';
import { failureLines } from '../verify';
import { storesOf, type PromoteContext, type PromoteOptions } from './context';
import { stageFacts } from './facts';
import { readRecord, recordConfigured, recordVerified } from './records';
import { contentSnapshot } from './snapshot';

export { checkPromotion, type PromotionCheck } from './gate';
export { storesOf, type Choose, type PromoteContext, type PromoteOptions, type StageContent } from './context';
export { stageFacts, type StageFacts } from './facts';
export { promotionCheck, promotionGate } from './promotion-step';
export { forgetConfigured, readRecord, recordConfigured, recordVerified, type RunRecord } from './records';
export { changedInputs, contentSnapshot, SHAPING_DIRS, type ContentSnapshot } from './snapshot';
export { hostsPhrase, shortSummary, summarizePromotion, summaryLines, type HostChange, type HostVerdict, type PromotionSummary } from './summary';

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

export function recordRun(stage: StageName, opts: Pick<PromoteOptions, 'dryRun' | 'env' | 'stores'>): PromoteStep {
  return {
    title: `Record the verified ${stage} content`,
    enabled: () => !opts.dryRun,
    task: async (ctx, task) => {
      const run = ctx.runs[stage]!;
      if (!ctx.site) throw new Error('the site was not loaded');
      const facts = stageFacts(ctx.site, stage);
      const results = ctx.verified?.[stage];
      if (!results) {
        await recordConfigured(storesOf(ctx, opts), stage, run.snapshot, facts);
        run.verifyDeferred = true;
        task.title = `Recorded the configured ${stage} content; it is verified once the passthrough is up`;
        return;
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new HomeprodError(`${failed.length} ${stage} check${failed.length === 1 ? '' : 's'} failed verification`, EXIT.failed, undefined, failureLines(results));
      await recordVerified(storesOf(ctx, opts), stage, run.snapshot, facts);
      run.verifyDeferred = false;
      task.title = stage === 'lab' ? 'Recorded what verified in lab: prod may now receive it' : `Recorded the verified ${stage} content`;
    },
  };
}
