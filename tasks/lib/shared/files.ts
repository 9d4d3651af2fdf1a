// Files that are never seen half-written, and a lock that a SIGKILLed holder cannot keep.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, HomeprodError } from '../ui/errors';
import { pidAlive } from './process';

/** Every regular file under a directory (absolute paths, sorted); none when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Writes via a temp file + rename, with the mode set before the content lands. */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Makes a directory (and parents) private to root. */
export function mkdirPrivate(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/**
 * Runs `fn` holding an exclusive lock file. The file holds the holder's pid, so a lock left
 * by a killed process is taken over instead of blocking forever.
 */
export async function withLock<T>(path: string, what: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = Number.NaN;
      let ageMs = 0;
      try {
        holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
        ageMs = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue; // released in between
      }
      // An empty file older than a moment is a holder killed between open and write.
      if (Number.isInteger(holder) ? !pidAlive(holder) : ageMs > 2000) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new HomeprodError(`${what}: another run (pid ${holder}) holds ${path}`, EXIT.locked);
      }
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
