// The promotion gate: prod only receives content that verified in lab.
import type { MachinePlan } from '../apply';
import { readFacts, type StageFacts } from './facts';
import { readRecord } from './records';
import { changedInputs, type ContentSnapshot } from './snapshot';
import { summarizePromotion, type PromotionSummary } from './summary';
import type { Stores } from '../shared/store';

export interface PromotionCheck {
  allowed: boolean;
  /** First run: lab could not be verified before prod's passthrough existed. */
  bootstrap?: boolean;
  /** Why not, when not allowed. */
  reason?: string;
  /** Inputs that change in prod compared to its last good run. */
  changes: string[];
  /** What prod gets, in a person's terms, compared with what its last run ran. */
  summary: PromotionSummary;
}

/**
 * `facts`: what prod will run with (stageFacts of the site for prod); `machines`: what prod's
 * plans do to each host, once planned (the summary's hosts then say what Terraform does).
 */
export async function checkPromotion(snapshot: ContentSnapshot, stores: Stores, facts: StageFacts, machines?: readonly MachinePlan[]): Promise<PromotionCheck> {
  const lab = await readRecord(stores, 'verified', 'lab');
  const prod = await readRecord(stores, 'run', 'prod');
  const changes = changedInputs(prod, snapshot);
  // A record older than the facts tells no services or hosts: summarized as a first promotion.
  const summary = summarizePromotion(readFacts(prod?.facts), facts, changes, machines);
  // The very first run: lab is verified through the passthrough, which prod brings up. Prod
  // may then receive exactly what lab was configured with, and lab is verified right after.
  const labConfigured = await readRecord(stores, 'run', 'lab');
  if (!prod && labConfigured?.hash === snapshot.hash) return { allowed: true, bootstrap: true, changes, summary };
  if (!lab) return { allowed: false, reason: 'nothing has verified in lab yet', changes, summary };
  if (lab.hash !== snapshot.hash) {
    const differs = changedInputs(lab, snapshot);
    return { allowed: false, reason: `this content did not verify in lab (differs in ${differs.slice(0, 5).join(', ')}${differs.length > 5 ? ` and ${differs.length - 5} more` : ''})`, changes, summary };
  }
  return { allowed: true, changes, summary };
}
