// Lab → prod promotion: prod only receives content that verified in lab. "Content" is
// everything that shapes a stage: the normalized site model, the stacks, the templates and
// the Ansible roles, hashed file by file so the gate can show what changes.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from './local/files';
import { PROJECT_ROOT, stateRoot } from './keys';
import { STAGES, type Site, type StageName } from './model/types';

/** Project directories whose files shape a stage. */
export const SHAPING_DIRS = ['stacks', 'templates', 'ansible'];

export interface ContentSnapshot {
  /** One hash over everything below. */
  hash: string;
  /** Per input ("site" or a project-relative path) → sha256. */
  files: Record<string, string>;
}

export interface RunRecord extends ContentSnapshot {
  stage: StageName;
  at: string;
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.actual'))
    .map((e) => join(e.parentPath, e.name));
}

export function contentSnapshot(site: Site, root: string = PROJECT_ROOT): ContentSnapshot {
  const files: Record<string, string> = { site: sha(JSON.stringify({ ...site, file: undefined })) };
  for (const dir of SHAPING_DIRS) for (const file of walk(join(root, dir))) files[relative(root, file)] = sha(readFileSync(file));
  const keys = Object.keys(files).sort();
  const hash = sha(keys.map((k) => `${k}\0${files[k]}`).join('\n'));
  return { hash, files: Object.fromEntries(keys.map((k) => [k, files[k]!])) };
}

/** Inputs that differ between two snapshots: added, removed or changed. */
export function changedInputs(before: Pick<ContentSnapshot, 'files'> | null, after: Pick<ContentSnapshot, 'files'>): string[] {
  if (!before) return Object.keys(after.files);
  const keys = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  return [...keys].filter((k) => before.files[k] !== after.files[k]).sort();
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

export interface PromotionCheck {
  allowed: boolean;
  /** First run: lab could not be verified before prod's passthrough existed. */
  bootstrap?: boolean;
  /** Why not, when not allowed. */
  reason?: string;
  /** Inputs that change in prod compared to its last good run. */
  changes: string[];
}

export function checkPromotion(snapshot: ContentSnapshot, env?: NodeJS.ProcessEnv): PromotionCheck {
  const lab = readRecord('verified', 'lab', env);
  const prod = readRecord('run', 'prod', env);
  const changes = changedInputs(prod, snapshot);
  // The very first run: lab is verified through the passthrough, which prod brings up. Prod
  // may then receive exactly what lab was configured with, and lab is verified right after.
  const labConfigured = readRecord('run', 'lab', env);
  if (!prod && labConfigured?.hash === snapshot.hash) return { allowed: true, bootstrap: true, changes };
  if (!lab) return { allowed: false, reason: 'nothing has verified in lab yet', changes };
  if (lab.hash !== snapshot.hash) {
    const differs = changedInputs(lab, snapshot);
    return { allowed: false, reason: `this content did not verify in lab (differs in ${differs.slice(0, 5).join(', ')}${differs.length > 5 ? ` and ${differs.length - 5} more` : ''})`, changes };
  }
  return { allowed: true, changes };
}
