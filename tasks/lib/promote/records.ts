// The records of each stage's runs: what it was last configured with ("run") and what last
// verified ("verified"), as content snapshots, in the stage's store (files under the state
// root, or PostgreSQL with the pg backend, shared by every checkout), each with the small facts
// of the services and hosts it ran with. The promotion gate reads them.
import { existsSync, rmSync } from 'node:fs';
import type { StageFacts } from './facts';
import type { ContentSnapshot } from './snapshot';
import { documentFile, type Stores } from '../shared/store';
import { STAGES, type StageName } from '../model/types';

export interface RunRecord extends ContentSnapshot {
  stage: StageName;
  at: string;
  /** What the stage ran with, for the promotion's summary; absent in records older than it. */
  facts?: StageFacts;
}

type Kind = 'verified' | 'run';

/**
 * Forgets that stages were configured, for `local.ts clean` (the machines are gone): the next
 * `up` then treats each as never brought up, so lab waits for prod's passthrough again. What
 * verified stays recorded: it did verify, and prod may still receive it. Only the files of
 * this state root: clean leaves Terraform's state in PostgreSQL alone too.
 */
export function forgetConfigured(root: string): StageName[] {
  return STAGES.filter((stage) => {
    // What each play ran with on the machines is gone with them too.
    rmSync(documentFile(root, stage, 'plays'), { force: true });
    const file = documentFile(root, stage, 'run');
    if (!existsSync(file)) return false;
    rmSync(file, { force: true });
    return true;
  });
}

const isRecord = (value: unknown): value is RunRecord =>
  typeof value === 'object' && value !== null && typeof (value as RunRecord).hash === 'string' && typeof (value as RunRecord).at === 'string' && typeof (value as RunRecord).files === 'object';

/** The record, or null when there is none (an unreadable one counts as none: the stage runs in full). */
export async function readRecord(stores: Stores, kind: Kind, stage: StageName): Promise<RunRecord | null> {
  const store = stores(stage);
  let value: unknown;
  try {
    value = await store.read(stage, kind);
  } catch (error) {
    // A database that cannot be reached is not "no record": the gate would misjudge.
    if (store.shared) throw error;
    return null;
  }
  return isRecord(value) ? value : null;
}

/** After a stage verified: it is the stage's last good run, and (for lab) what prod may receive. */
export async function recordVerified(stores: Stores, stage: StageName, snapshot: ContentSnapshot, facts?: StageFacts): Promise<void> {
  await recordConfigured(stores, stage, snapshot, facts);
  await writeRecord(stores, 'verified', stage, snapshot, facts);
}

/** A stage that was configured but could not be verified yet (lab before the passthrough exists). */
export async function recordConfigured(stores: Stores, stage: StageName, snapshot: ContentSnapshot, facts?: StageFacts): Promise<void> {
  await writeRecord(stores, 'run', stage, snapshot, facts);
}

async function writeRecord(stores: Stores, kind: Kind, stage: StageName, snapshot: ContentSnapshot, facts?: StageFacts): Promise<void> {
  const record: RunRecord = { stage, at: new Date().toISOString(), ...snapshot, ...(facts ? { facts } : {}) };
  await stores(stage).write(stage, kind, record);
}
