import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
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

describe('runs that start together', () => {
  const CONTENDERS = 8;
  const ROUNDS = 12;

  it(`let exactly one of ${CONTENDERS} in, round after round, also when they find a stale lock`, async () => {
    const race = mkdtempSync(join(dir, 'race-'));
    // Every third round starts with the lock of a run that is gone.
    const dead = spawnSync('true').pid!;
    for (let round = 0; round < ROUNDS; round += 3) writeFileSync(join(race, `round-${round}.lock`), `${dead}\n`);
    const tsx = join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const fixture = join(import.meta.dirname, '..', 'fixtures', 'lock-contender.ts');
    const outputs: string[] = Array.from({ length: CONTENDERS }, () => '');
    const children = outputs.map((_, i) => {
      const child = spawn(process.execPath, [tsx, fixture, race, String(ROUNDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (d: Buffer) => (outputs[i] += d.toString()));
      return child;
    });
    const exited = children.map((c) => new Promise<number | null>((r) => c.once('exit', r)));
    const lines = () => outputs.flatMap((o) => o.split('\n').filter(Boolean));
    const until = async (ok: () => boolean) => {
      for (let waited = 0; !ok(); waited += 5) {
        if (waited > 60_000) throw new Error(`contenders stalled: ${JSON.stringify(outputs)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      await until(() => outputs.every((o) => o.startsWith('ready')));
      for (let round = 0; round < ROUNDS; round++) {
        writeFileSync(join(race, `go-${round}`), '');
        await until(() => lines().filter((l) => l.startsWith(`${round} `)).length === CONTENDERS);
        const results = lines().filter((l) => l.startsWith(`${round} `));
        const stale = round % 3 === 0;
        expect({ round, won: results.filter((l) => l.startsWith(`${round} won`)) }).toEqual({ round, won: [`${round} won ${stale ? dead : '-'}`] });
        writeFileSync(join(race, `done-${round}`), '');
      }
      expect(await Promise.all(exited)).toEqual(children.map(() => 0));
      // Nothing left behind: no claims, no contenders' files, every lock released.
      expect(readdirSync(race).filter((f) => !/^(go|done)-\d+$/.test(f))).toEqual([]);
    } finally {
      for (const c of children) c.kill('SIGKILL');
    }
  }, 120_000);
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
