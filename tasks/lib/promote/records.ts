// The records of each stage's runs: what it was last configured with ("run") and what last
// verified ("verified"), as content snapshots. The promotion gate reads them.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentSnapshot } from './snapshot';
import { writeFileAtomic } from '../shared/files';
import { stateRoot } from '../shared/paths';
import { STAGES, type StageName } from '../model/types';

export interface RunRecord extends ContentSnapshot {
  stage: StageName;
  at: string;
}

const recordPath = (root: string, kind: 'verified' | 'run', stage: StageName) => join(root, 'runs', `${stage}-${kind}.json`);
const recordFile = (kind: 'verified' | 'run', stage: StageName, env?: NodeJS.ProcessEnv) => recordPath(stateRoot(env), kind, stage);

/**
 * Forgets that stages were configured, for `local.ts clean` (the machines are gone): the next
 * `up` then treats each as never brought up, so lab waits for prod's passthrough again. What
 * verified stays recorded: it did verify, and prod may still receive it.
 */
export function forgetConfigured(root: string): StageName[] {
  return STAGES.filter((stage) => {
    const file = recordPath(root, 'run', stage);
    if (!existsSync(file)) return false;
    rmSync(file, { force: true });
    return true;
  });
}

export function readRecord(kind: 'verified' | 'run', stage: StageName, env?: NodeJS.ProcessEnv): RunRecord | null {
  try {
    return JSON.parse(readFileSync(recordFile(kind, stage, env), 'utf8')) as RunRecord;
  } catch {
    return null;
  }
}

/** After a stage verified: it is the stage's last good run, and (for lab) what prod may receive. */
export function recordVerified(stage: StageName, snapshot: ContentSnapshot, env?: NodeJS.ProcessEnv): void {
  recordConfigured(stage, snapshot, env);
  writeRecord('verified', stage, snapshot, env);
}

/** A stage that was configured but could not be verified yet (lab before the passthrough exists). */
export function recordConfigured(stage: StageName, snapshot: ContentSnapshot, env?: NodeJS.ProcessEnv): void {
  writeRecord('run', stage, snapshot, env);
}

function writeRecord(kind: 'verified' | 'run', stage: StageName, snapshot: ContentSnapshot, env?: NodeJS.ProcessEnv): void {
  const record: RunRecord = { stage, at: new Date().toISOString(), ...snapshot };
  writeFileAtomic(recordFile(kind, stage, env), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

