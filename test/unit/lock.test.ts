import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock } from '../../tasks/lib/lock';
import { HomeprodError } from '../../tasks/lib/errors';

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
