// One run at a time: a lock file holding the owner's pid. A lock whose pid is gone is stale
// (a run killed with SIGKILL) and is taken over, so the next run converges.
//
// The lock never exists without its pid: each contender writes its pid to a file of its own
// and link()s it to the lock path, which exactly one of them wins. Taking over a stale lock
// is claimed the same way, by a link to `<lock>.takeover-<pid>-<inode>` of that very lock
// file; the claimant re-checks under the claim that the lock is still the stale one and then
// rename()s its own file over it, so a live lock is never replaced or deleted.
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateRoot } from './paths';
import { EXIT, HomeprodError } from '../ui/errors';
import { pidAlive } from './process';

export interface Lock {
  release(): void;
  /** The pid of a stale lock that was taken over, if any. */
  tookOverFrom?: number;
}

interface Holder {
  pid: number;
  inode: number;
}

/** The lock's owner and the identity of its file, or null when there is none right now. */
function holder(file: string): Holder | null {
  try {
    const inode = statSync(file).ino;
    return { pid: Number(readFileSync(file, 'utf8').trim()), inode };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const linked = (from: string, to: string): boolean => {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
};

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export function acquireLock(file: string, what: string): Lock {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const mine = `${file}.${process.pid}.new`;
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  const locked = (pid: number) => new HomeprodError(`another ${what} is running (pid ${pid})`, EXIT.locked, `wait for it to finish, or stop it; the lock is ${file}`);
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (linked(mine, file)) return held(file);
      const current = holder(file);
      if (!current) continue; // released between our link and our look
      if (Number.isInteger(current.pid) && current.pid > 0 && current.pid !== process.pid && pidAlive(current.pid)) throw locked(current.pid);
      const claim = `${file}.takeover-${current.pid}-${current.inode}`;
      if (!linked(mine, claim)) {
        pause(10); // another run is taking this stale lock over: see who holds it next
        continue;
      }
      try {
        const now = holder(file);
        if (now?.inode === current.inode) {
          renameSync(mine, file);
          return { ...held(file), tookOverFrom: current.pid };
        }
      } finally {
        rmSync(claim, { force: true });
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new HomeprodError(`could not take the lock ${file}`, EXIT.locked, `a takeover of a stale lock did not finish; if no run is going, remove ${file} and ${file}.takeover-*`);
}

function held(file: string): Lock {
  const release = () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return { release };
}

/** The pipeline's one run lock (<state root>/run.lock): up, apply, configure, down and synth take it. */
export const acquireRunLock = (env: NodeJS.ProcessEnv = process.env): Lock => acquireLock(join(stateRoot(env), 'run.lock'), 'homeprod run');
