// The whole pipeline as a list: check → per stage (promotion gate for prod) apply → render →
// configure → verify → record. Every step is the one its layer exports; this folder only
// composes them and decides what to skip (the fast path, the dry run).
import type { ApplyContext } from '../apply';
import { checkSteps, type CheckContext } from '../check';
import type { AskPassphrase, ConfigureContext } from '../configure';
import type { HostOutput, Site, StageName } from '../model/types';
import type { Choose, PromoteContext, StageContent } from '../promote';
import { outputsFromModel, type RenderResult } from '../render';
import type { Stores } from '../shared/store';
import type { Step, StepTask } from '../ui/listr';
import type { VerifyContext } from '../verify';
import { converge, recordStep, stageSteps, verifyStep } from './stage';

export interface UpOptions {
  siteFile: string;
  stages: StageName[];
  yes: boolean;
  dryRun: boolean;
  force: boolean;
  allowDataLoss: boolean;
  /** Do not verify the Proxmox API certificate (the --insecure flag). */
  insecure?: boolean;
  /** Asks yes/no inside a task; absent when nobody can answer (then the flag is named). */
  confirm?: (task: StepTask<UpContext>, message: string) => Promise<boolean>;
  /** Asks whether to promote to prod (promote, show a host's diff, decline); absent as confirm is. */
  choose?: Choose<UpContext>;
  /** Asks the control node key's passphrase; absent = stop with a message. */
  askPassphrase?: AskPassphrase;
  env?: NodeJS.ProcessEnv;
  /** Where each stage's records and applied stacks are; default: by the site's state backends. */
  stores?: Stores;
  /** Configure runs every play on every host, not only what the change needs. */
  full?: boolean;
}

export interface StageRun extends StageContent {
  /** Nothing was applied and the inputs are unchanged: only verify (decided after the plans). */
  fastPath?: boolean;
}

export interface UpContext extends CheckContext, ApplyContext, ConfigureContext, VerifyContext, PromoteContext {
  site?: Site;
  outputs: HostOutput[];
  rendered?: Partial<Record<StageName, RenderResult>>;
  runs: Partial<Record<StageName, StageRun>>;
}

export function upSteps(opts: UpOptions): Step<UpContext>[] {
  return [
    ...(checkSteps() as Step<UpContext>[]),
    expectModelOutputs(opts),
    ...opts.stages.map(
      (stage): Step<UpContext> => ({
        title: `Bring up ${stage}`,
        task: (_ctx, task) => task.newListr(stageSteps(stage, opts), { exitOnError: true }),
      }),
    ),
    verifyLabThroughProd(opts),
  ];
}

function expectModelOutputs(opts: UpOptions): Step<UpContext> {
  return {
    title: 'Take the outputs the model defines until the stacks report theirs',
    task: (ctx, task) => {
      if (!ctx.site) throw new Error('the site was not loaded');
      ctx.outputs = outputsFromModel(ctx.site);
      task.title = `Expecting ${ctx.outputs.length} hosts in ${opts.stages.join(' and ')}`;
    },
  };
}

function verifyLabThroughProd(opts: UpOptions): Step<UpContext> {
  return {
    title: 'Verify lab through the passthrough prod just brought up',
    enabled: (ctx) => Boolean(ctx.runs?.lab?.verifyDeferred) && opts.stages.includes('prod'),
    task: (ctx, task) =>
      task.newListr([
        // acme in lab: its HTTP-01 route is the passthrough prod just brought up; issue now.
        ...(ctx.configured?.lab?.acmePending ? converge('lab', opts) : []),
        ...verifyStep('lab', opts),
        recordStep('lab', opts),
      ]),
  };
}
