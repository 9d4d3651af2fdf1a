// One run at a time: a lock file holding the owner's pid. A lock whose pid is gone is stale
// (a run killed with SIGKILL) and is taken over, so the next run converges.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateRoot } from './paths';
import { EXIT, HomeprodError } from '../ui/errors';
import { pidAlive } from './process';

export interface Lock {
  release(): void;
  /** The pid of a stale lock that was taken over, if any. */
  tookOverFrom?: number;
}

export function acquireLock(file: string, what: string): Lock {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let tookOverFrom: number | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      const release = () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return { release, tookOverFrom };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
        throw new HomeprodError(`another ${what} is running (pid ${owner})`, EXIT.locked, `wait for it to finish, or stop it; the lock is ${file}`);
      }
      tookOverFrom = owner;
      rmSync(file, { force: true });
    }
  }
  throw new HomeprodError(`could not take the lock ${file}`, EXIT.locked);
}

/** The pipeline's one run lock (<state root>/run.lock): up, apply, configure and down take it. */
export const acquireRunLock = (env: NodeJS.ProcessEnv = process.env): Lock => acquireLock(join(stateRoot(env), 'run.lock'), 'homeprod run');
