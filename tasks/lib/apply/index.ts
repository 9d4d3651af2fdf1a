// The apply layer: synthesize a stage's stacks, plan every stack, stop before anything is
// applied when data would be lost, then apply (or destroy) in dependency order, data disks
// first, at most two stacks at a time. `tasks/apply.ts` runs these steps alone, `tasks/up.ts`
// composes them with the other layers.
import type { HostOutput, Site, StageName } from '../model/types';
import type { Stores } from '../shared/store';
import type { SynthStack, Synthesize } from '../synth';
import type { Step, StepTask } from '../ui/listr';
import type { PlanSummary } from './plan';
import { ApplyRun, applyStacks, checkDataLoss, confirmChanges, planStacks, prepareTerraform, readHostOutputs, recordAppliedStacks, synthesizeStacks } from './steps';
import type { Terraform } from './terraform';

export { hasWork } from './steps';
export { machinePlans, type MachineAction, type MachinePlan } from './machines';
export { plansLine } from './plan';
export { orderStacks } from './stacks';

export interface ApplyOptions {
  stage: StageName;
  /** The site; when absent, an earlier step must have put it into ctx.site. */
  site?: Site;
  /** Default: `synthesizer()` (stacks/main.ts into cdktf.out). */
  synthesize?: Synthesize;
  /** Where our terraform CLI config lives (default the state root, <project>/.state). */
  stateDir?: string;
  /** Destroy the stage's stacks instead of applying them (reverse order). */
  destroy?: boolean;
  /** With `destroy`: also destroy the data stacks. */
  destroyData?: boolean;
  /** With `destroy`: only these hosts' stacks (names of the stage's hosts). */
  hosts?: string[];
  /** Apply even when a plan destroys or replaces a data disk or data VM. */
  allowDataLoss?: boolean;
  /** Plan only. */
  dryRun?: boolean;
  /** Skip the confirmation. */
  yes?: boolean;
  /** Steps between the data-loss check and the confirmation, which see every plan (up: prod's promotion gate). */
  beforeConfirm?: Step<ApplyContext>[];
  /** Asks a yes/no question inside the task; absent = no way to ask (then `--yes` is required). */
  confirm?: (task: StepTask<ApplyContext>, message: string) => Promise<boolean>;
  /** An existing runner (tests, or a caller that runs several stages). */
  terraform?: Terraform;
  /** Do not verify the platform API's certificate (the --insecure flag). */
  insecure?: boolean;
  /** Extra environment for terraform, e.g. PG* for the pg backend. */
  terraformEnv?: Record<string, string>;
  /** Where the stage's record of applied stacks is; default: by the site's state backend. */
  stores?: Stores;
  /** At most this many stacks at a time (default 2). */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface StageApplyResult {
  stacks: SynthStack[];
  /** Applied before, no longer synthesized (their host left the site): destroyed by this run. */
  orphans: SynthStack[];
  /** Orphaned data stacks: always kept (their configuration protects them). */
  keptOrphans: string[];
  /** Every stack the record of applied stacks held before this run (none for a `down --host`). */
  recorded: string[];
  /** The last plan of every stack that was planned (skipped data stacks are absent). */
  plans: Record<string, PlanSummary>;
  /** Stacks whose plan waits for their dependencies to be applied. */
  deferred: string[];
  /** Something was applied. */
  changed: boolean;
  /** The `host` output of every VM stack (not after a destroy), sorted by name. */
  outputs: HostOutput[];
}

export interface ApplyContext {
  site?: Site;
  applied?: Partial<Record<StageName, StageApplyResult>>;
  /** A step before the confirmation asked already (prod's promotion gate): why it is not asked again. */
  confirmed?: Partial<Record<StageName, string>>;
}

/** The apply layer's steps, in the order they run. */
export function applySteps(opts: ApplyOptions): Step<ApplyContext>[] {
  const run = new ApplyRun(opts);
  return [
    prepareTerraform(run),
    synthesizeStacks(run),
    planStacks(run),
    checkDataLoss(run),
    ...(opts.beforeConfirm ?? []),
    confirmChanges(run),
    applyStacks(run),
    recordAppliedStacks(run),
    readHostOutputs(run),
  ];
}
