// The one run lock of a site, where its state is: when any stage keeps its Terraform state in
// PostgreSQL, every checkout and CI runner of the site must exclude each other, so the lock is
// an advisory lock in that database (pg-lock.ts); otherwise it is this checkout's lock file
// (lock.ts). Taking the PostgreSQL lock is also when the files earlier runs wrote are taken over.
import { relative } from 'node:path';
import type { Site, StageName } from '../model/types';
import { acquireRunLock, type Lock } from './lock';
import { stateRoot } from './paths';
import { acquirePgRunLock } from './pg-lock';
import { takeOverFiles, type TakenOver } from './pg-store';
import { usesPostgres } from './store';

export interface SiteLockOptions {
  env?: NodeJS.ProcessEnv;
  /** Says what the lock did beyond locking (files taken over into PostgreSQL). */
  say?: (line: string) => void;
}

/** Up, apply, configure and down take this before they change anything. */
export async function acquireSiteLock(site: Pick<Site, 'stages'>, options: SiteLockOptions = {}): Promise<Lock> {
  const env = options.env ?? process.env;
  if (!usesPostgres(site)) return acquireRunLock(env);
  const lock = await acquirePgRunLock(env);
  try {
    const root = stateRoot(env);
    const stages = (Object.keys(site.stages) as StageName[]).filter((stage) => site.stages[stage].state.backend === 'pg');
    for (const line of takeoverLines(await takeOverFiles(env, root, stages), root)) options.say?.(line);
  } catch (error) {
    lock.release();
    throw error;
  }
  return lock;
}

export function takeoverLines(taken: TakenOver[], root: string): string[] {
  return taken.map((t) =>
    t.kept === 'file'
      ? `Took ${relative(root, t.file)} over into PostgreSQL (homeprod.records, ${t.stage} ${t.kind}); the file is kept as ${relative(root, t.movedTo)}`
      : `PostgreSQL already has the ${t.stage} ${t.kind} record of another checkout and keeps it; ${relative(root, t.file)} is kept as ${relative(root, t.movedTo)}`,
  );
}
