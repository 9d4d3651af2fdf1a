// tasks/synth.ts writes the stacks apply reads: it waits for no one and refuses while a run holds the lock.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

describe('tasks/synth.ts', () => {
  it('refuses with exit 5 while another run holds the run lock, and leaves the lock alone', () => {
    const state = mkdtempSync(join(tmpdir(), 'homeprod-synth-cli-'));
    try {
      const lockFile = join(state, 'run.lock');
      writeFileSync(lockFile, '1\n'); // pid 1 is always alive: another run
      const result = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'tasks', 'synth.ts'), '--stage', 'lab'], {
        encoding: 'utf8',
        env: { ...process.env, CI: '1', HOMEPROD_STATE_ROOT: state },
        timeout: 60_000,
      });
      expect(result.status).toBe(5);
      expect(result.stderr).toContain('another homeprod run is running (pid 1)');
      expect(result.stdout).not.toContain('lab-proxy-vm');
      expect(readFileSync(lockFile, 'utf8')).toBe('1\n');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
