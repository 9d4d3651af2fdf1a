// The whole pipeline as a list: check → per stage (promotion gate for prod) apply → render →
// configure → verify → record. Every step is the one its layer exports; this file only
// composes them and decides what to skip (the fast path, the dry run).
import { join } from 'node:path';
import { applySteps, type ApplyContext } from './apply';
import { configureSteps, type ConfigureContext } from './ansible';
import { checkSteps, type CheckContext } from './check';
import { EXIT, HomeprodError } from './errors';
import { stateRoot } from './keys';
import type { Step, StepTask } from './listr';
import type { HostOutput, Site, StageName } from './model/types';
import { checkPromotion, contentSnapshot, readRecord, recordConfigured, recordVerified, type ContentSnapshot } from './promotion';
import { outputsFromModel, renderSteps, type RenderResult } from './render';
import { failureLines, verifySteps, type VerifyContext } from './verify';

export interface UpOptions {
  siteFile: string;
  stages: StageName[];
  yes: boolean;
  dryRun: boolean;
  force: boolean;
  allowDataLoss: boolean;
  /** Asks yes/no inside a task; absent when nobody can answer (then the flag is named). */
  confirm?: (task: StepTask<UpContext>, message: string) => Promise<boolean>;
  /** Asks the control node key's passphrase; absent = stop with a message. */
  askPassphrase?: Parameters<typeof configureSteps>[0]['askPassphrase'];
  env?: NodeJS.ProcessEnv;
}

export interface StageRun {
  snapshot: ContentSnapshot;
  /** Inputs unchanged since the stage's last verified run. */
  unchanged: boolean;
  /** Nothing was applied and the inputs are unchanged: only verify. */
  fastPath: boolean;
  /** Lab on the first run: verified only once prod's passthrough is up. */
  verifyDeferred?: boolean;
}

export interface UpContext extends CheckContext, ApplyContext, ConfigureContext, VerifyContext {
  site?: Site;
  outputs: HostOutput[];
  rendered?: Partial<Record<StageName, RenderResult>>;
  runs: Partial<Record<StageName, StageRun>>;
}

const siteOf = (ctx: UpContext): Site => {
  if (!ctx.site) throw new Error('the site was not loaded');
  return ctx.site;
};

export function upSteps(opts: UpOptions): Step<UpContext>[] {
  return [
    ...(checkSteps() as Step<UpContext>[]),
    {
      title: 'Take the outputs the model defines until the stacks report theirs',
      task: (ctx, task) => {
        ctx.outputs = outputsFromModel(siteOf(ctx));
        task.title = `Expecting ${ctx.outputs.length} hosts in ${opts.stages.join(' and ')}`;
      },
    },
    ...opts.stages.map(
      (stage): Step<UpContext> => ({
        title: `Bring up ${stage}`,
        task: (_ctx, task) => task.newListr(stageSteps(stage, opts), { exitOnError: true }),
      }),
    ),
    {
      title: 'Verify lab through the passthrough prod just brought up',
      enabled: (ctx) => Boolean(ctx.runs?.lab?.verifyDeferred) && opts.stages.includes('prod'),
      task: (ctx, task) =>
        task.newListr([
          // acme in lab: its HTTP-01 route is the passthrough prod just brought up; issue now.
          ...(ctx.configured?.lab?.acmePending ? converge('lab', opts) : []),
          ...verifyStep('lab', opts),
          recordStep('lab', opts),
        ]),
    },
  ];
}

/** Render and configure a stage: the steps that change hosts. */
function converge(stage: StageName, opts: UpOptions): Step<UpContext>[] {
  return [
    ...(renderSteps(stage, { outDir: join(stateRoot(opts.env), 'rendered', stage) }) as Step<UpContext>[]),
    ...(configureSteps({ stage, askPassphrase: opts.askPassphrase, env: opts.env, extraArgs: opts.dryRun ? ['--check', '--diff'] : undefined }).map((s) => ({
      ...s,
      skip: (ctx: UpContext) => {
        if (opts.dryRun && !readRecord('run', stage, opts.env)) return `Dry run: ${stage} has never been configured`;
        return typeof s.skip === 'function' ? (s.skip as (c: UpContext) => boolean | string)(ctx) : (s.skip ?? false);
      },
    })) as Step<UpContext>[]),
  ];
}

function verifyStep(stage: StageName, opts: UpOptions): Step<UpContext>[] {
  return verifySteps({ stage, env: opts.env }).map((s) => ({
    ...s,
    skip: (ctx: UpContext) => {
      if (opts.dryRun && !readRecord('run', stage, opts.env)) return `Dry run: ${stage} has never been configured`;
      if (stage === 'lab' && passthroughDown(ctx, opts.env)) return 'The passthrough (prod) is not up yet: lab is verified right after prod';
      return false;
    },
  })) as Step<UpContext>[];
}

/** No passthrough yet: it is prod's, and prod has never been brought up. */
const passthroughDown = (ctx: UpContext, env?: NodeJS.ProcessEnv) => !ctx.configured?.prod && !readRecord('run', 'prod', env);

function recordStep(stage: StageName, opts: UpOptions): Step<UpContext> {
  return {
    title: `Record the verified ${stage} content`,
    enabled: () => !opts.dryRun,
    task: (ctx, task) => {
      const run = ctx.runs[stage]!;
      const results = ctx.verified?.[stage];
      if (!results) {
        recordConfigured(stage, run.snapshot, opts.env);
        run.verifyDeferred = true;
        task.title = `Recorded the configured ${stage} content; it is verified once the passthrough is up`;
        return;
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new HomeprodError(`${failed.length} ${stage} check${failed.length === 1 ? '' : 's'} failed verification`, EXIT.failed, undefined, failureLines(results));
      recordVerified(stage, run.snapshot, opts.env);
      run.verifyDeferred = false;
      task.title = stage === 'lab' ? 'Recorded what verified in lab: prod may now receive it' : `Recorded the verified ${stage} content`;
    },
  };
}

function stageSteps(stage: StageName, opts: UpOptions): Step<UpContext>[] {
  const runOf = (ctx: UpContext) => ctx.runs[stage]!;
  const applied = (ctx: UpContext) => ctx.applied?.[stage];
  return [
    {
      title: `Compare the ${stage} inputs with its last verified run`,
      task: (ctx, task) => {
        const snapshot = contentSnapshot(siteOf(ctx));
        const last = readRecord('run', stage, opts.env);
        const unchanged = last?.hash === snapshot.hash;
        ctx.runs[stage] = { snapshot, unchanged, fastPath: false };
        task.title = unchanged ? `The ${stage} inputs are unchanged since ${last!.at}` : last ? `The ${stage} inputs changed since ${last.at}` : `${stage} has no verified run yet`;
      },
    },
    ...(stage === 'prod' ? [promotionGate(opts)] : []),
    ...(applySteps({
      stage,
      yes: opts.yes,
      dryRun: opts.dryRun,
      allowDataLoss: opts.allowDataLoss,
      confirm: opts.confirm as Parameters<typeof applySteps>[0]['confirm'],
    }) as Step<UpContext>[]),
    {
      title: `Decide what ${stage} needs`,
      task: (ctx, task) => {
        const result = applied(ctx);
        const run = runOf(ctx);
        if (result && result.outputs.length) ctx.outputs = [...ctx.outputs.filter((o) => o.stage !== stage), ...result.outputs];
        const planEmpty = result ? !result.changed && result.deferred.length === 0 && Object.values(result.plans).every((p) => p.empty) : false;
        run.fastPath = run.unchanged && planEmpty && !opts.dryRun;
        task.title = run.fastPath ? `${stage} is unchanged and its plan is empty: only verify` : `${stage} changed: render and configure`;
      },
    },
    ...converge(stage, opts).map((s) => ({ ...s, skip: (ctx: UpContext) => (runOf(ctx).fastPath ? 'Unchanged' : (typeof s.skip === 'function' ? s.skip(ctx) : (s.skip ?? false))) })),
    ...verifyStep(stage, opts),
    {
      // The fast path trusts the record, not the hosts: when an unchanged stage fails to
      // verify (a host drifted, a service died), configure it again and verify once more.
      title: `Configure the unchanged ${stage} again: it failed verification`,
      enabled: (ctx) => Boolean(ctx.runs[stage]?.fastPath && ctx.verified?.[stage]?.some((r) => !r.ok)),
      task: (_ctx, task) => task.newListr([...converge(stage, opts), ...verifyStep(stage, opts)]),
    },
    recordStep(stage, opts),
  ];
}

function promotionGate(opts: UpOptions): Step<UpContext> {
  return {
    title: 'Promotion gate: prod only receives what verified in lab',
    task: async (ctx, task) => {
      const run = ctx.runs.prod!;
      const check = checkPromotion(run.snapshot, opts.env);
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
