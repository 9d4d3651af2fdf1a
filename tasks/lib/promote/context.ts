// What the promote layer's steps share: the context they read and fill, their options, and
// where the records are.
import type { StageApplyResult } from '../apply';
import type { HostOutput, Site, StageName } from '../model/types';
import { storesFor, type Stores } from '../shared/store';
import type { StepTask } from '../ui/listr';
import type { Choice } from '../ui/prompts';
import type { VerifyResult } from '../verify';
import type { ContentSnapshot } from './snapshot';

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
  /** Host outputs so far (the model's until a stage is applied): what prod's configs are rendered with. */
  outputs?: HostOutput[];
  runs: Partial<Record<StageName, StageContent>>;
  verified?: Partial<Record<StageName, VerifyResult[]>>;
  /** Prod's plans, when the gate runs after them: what Terraform will do to each host. */
  applied?: Partial<Record<StageName, StageApplyResult>>;
  /** The gate asked and was answered: the apply's own confirmation is not asked again. */
  confirmed?: Partial<Record<StageName, string>>;
}

/** Asks one question of a few choices inside a task. */
export type Choose<Ctx> = (task: StepTask<Ctx>, question: { message: string; choices: Choice<string>[] }) => Promise<string>;

export interface PromoteOptions {
  yes: boolean;
  dryRun: boolean;
  force: boolean;
  /** Asks whether to promote (or to show a host's diff first); absent when nobody can answer (then the flag is named). */
  choose?: Choose<PromoteContext>;
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
