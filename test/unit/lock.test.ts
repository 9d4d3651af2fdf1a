import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock } from '../../tasks/lib/shared/lock';
import { HomeprodError } from '../../tasks/lib/ui/errors';

const dir = mkdtempSync(join(tmpdir(), 'homeprod-lock-'));

describe('the run lock', () => {
  it('keeps a second run out while the first holds it, and frees it on release', () => {
    const file = join(dir, 'a.lock');
    const lock = acquireLock(file, 'up');
    writeFileSync(file, '1\n'); // pid 1 is always alive: another run
    expect(() => acquireLock(file, 'up')).toThrow(HomeprodError);
    try {
      acquireLock(file, 'up');
    } catch (error) {
      expect((error as HomeprodError).exitCode).toBe(5);
      expect((error as Error).message).toBe('another up is running (pid 1)');
    }
    writeFileSync(file, `${process.pid}\n`);
    lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a stale lock whose owner is gone', () => {
    const file = join(dir, 'b.lock');
    writeFileSync(file, '999999999\n');
    const lock = acquireLock(file, 'up');
    expect(lock.tookOverFrom).toBe(999999999);
    lock.release();
  });
});

describe('a lock owner that was killed', () => {
  it('is not alive while it lingers as a zombie', async () => {
    const { spawn } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const { pidAlive: alive } = await import('../../tasks/lib/shared/process');
    // `sleep 0` exits at once, but its parent (exec'd into `sleep 5`) never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
    await new Promise((r) => setTimeout(r, 300));
    try {
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]).toBe('Z');
      expect(alive(pid)).toBe(false);
      expect(alive(parent.pid!)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
