// One stage's part of `up`: compare, (prod) the promotion check, apply (prod: the promotion gate
// between the plans and the apply), decide the fast path, render and configure, verify, repair
// drift on the fast path, record.
import { applySteps, type ApplyContext } from '../apply';
import { configureSteps } from '../configure';
import type { StageName } from '../model/types';
import { compareInputs, promotionCheck, promotionGate, readRecord, recordRun, storesOf } from '../promote';
import { renderSteps } from '../render';
import { renderedDir, stateRoot } from '../shared/paths';
import type { Step } from '../ui/listr';
import { verifySteps } from '../verify';
import type { StageRun, UpContext, UpOptions } from './index';

type UpStep = Step<UpContext>;

type Skip = boolean | string | Promise<boolean | string>;

const neverConfigured = async (stage: StageName, ctx: UpContext, opts: UpOptions) => opts.dryRun && !(await readRecord(storesOf(ctx, opts), 'run', stage));

/** A step's own skip, as a function of the context. */
const ownSkip = (step: UpStep, ctx: UpContext): Skip => (typeof step.skip === 'function' ? (step.skip as (c: UpContext) => Skip)(ctx) : (step.skip ?? false));

/** Render and configure a stage: the steps that change hosts (full: every play, whatever changed). */
export function converge(stage: StageName, opts: UpOptions, full = false): UpStep[] {
  const configure = configureSteps({
    stage,
    askPassphrase: opts.askPassphrase,
    env: opts.env,
    stores: opts.stores,
    full: full || opts.full,
    extraArgs: opts.dryRun ? ['--check', '--diff'] : undefined,
  }) as UpStep[];
  return [
    ...(renderSteps(stage, { outDir: renderedDir(stateRoot(opts.env), stage), ownDir: true }) as UpStep[]),
    ...configure.map((s) => ({ ...s, skip: async (ctx: UpContext) => ((await neverConfigured(stage, ctx, opts)) ? `Dry run: ${stage} has never been configured` : ownSkip(s, ctx)) })),
  ];
}

/** No passthrough yet: it is prod's, and prod has never been brought up. */
const passthroughDown = async (ctx: UpContext, opts: UpOptions) => !ctx.configured?.prod && !(await readRecord(storesOf(ctx, opts), 'run', 'prod'));

export function verifyStep(stage: StageName, opts: UpOptions): UpStep[] {
  return (verifySteps({ stage, env: opts.env }) as UpStep[]).map((s) => ({
    ...s,
    skip: async (ctx: UpContext) => {
      if (await neverConfigured(stage, ctx, opts)) return `Dry run: ${stage} has never been configured`;
      if (stage === 'lab' && (await passthroughDown(ctx, opts))) return 'The passthrough (prod) is not up yet: lab is verified right after prod';
      return false;
    },
  }));
}

export const recordStep = (stage: StageName, opts: UpOptions): UpStep => recordRun(stage, opts) as UpStep;

export function stageSteps(stage: StageName, opts: UpOptions): UpStep[] {
  const runOf = (ctx: UpContext): StageRun => ctx.runs[stage]!;
  const promote = opts as Parameters<typeof promotionGate>[0];
  return [
    compareInputs(stage, opts) as UpStep,
    // Prod: refused before Terraform runs unless it verified in lab; asked once its plans are known.
    ...(stage === 'prod' ? [promotionCheck(promote) as UpStep] : []),
    ...(applySteps({
      stage,
      beforeConfirm: stage === 'prod' ? [promotionGate(promote) as Step<ApplyContext>] : [],
      yes: opts.yes,
      dryRun: opts.dryRun,
      allowDataLoss: opts.allowDataLoss,
      insecure: opts.insecure,
      env: opts.env,
      stores: opts.stores,
      confirm: opts.confirm as Parameters<typeof applySteps>[0]['confirm'],
    }) as UpStep[]),
    decideFastPath(stage, opts),
    ...converge(stage, opts).map((s) => ({ ...s, skip: (ctx: UpContext) => (runOf(ctx).fastPath ? 'Unchanged' : ownSkip(s, ctx)) })),
    ...verifyStep(stage, opts),
    repairDrift(stage, opts),
    recordStep(stage, opts),
  ];
}

function decideFastPath(stage: StageName, opts: UpOptions): UpStep {
  return {
    title: `Decide what ${stage} needs`,
    task: (ctx, task) => {
      const result = ctx.applied?.[stage];
      const run = ctx.runs[stage]!;
      if (result && result.outputs.length) ctx.outputs = [...ctx.outputs.filter((o) => o.stage !== stage), ...result.outputs];
      const planEmpty = result ? !result.changed && result.deferred.length === 0 && Object.values(result.plans).every((p) => p.empty) : false;
      run.fastPath = run.unchanged && planEmpty && !opts.dryRun;
      task.title = run.fastPath ? `${stage} is unchanged and its plan is empty: only verify` : `${stage} changed: render and configure`;
    },
  };
}

/**
 * The fast path and a configure of only what changed trust the records, not the hosts: when the
 * stage then fails to verify (a host drifted, a service died), configure it again, every play on
 * every host, since the drift is where no input changed, and verify once more.
 */
function repairDrift(stage: StageName, opts: UpOptions): UpStep {
  return {
    title: `Configure the unchanged ${stage} again: it failed verification`,
    enabled: (ctx) => {
      const trusted = ctx.runs[stage]?.fastPath || ctx.configured?.[stage]?.selection.full === false;
      return Boolean(trusted && ctx.verified?.[stage]?.some((r) => !r.ok));
    },
    task: (ctx, task) => {
      if (!ctx.runs[stage]?.fastPath) task.title = `Configure every ${stage} play again: it failed verification after configuring only what changed`;
      return task.newListr([...converge(stage, opts, true), ...verifyStep(stage, opts)]);
    },
  };
}
