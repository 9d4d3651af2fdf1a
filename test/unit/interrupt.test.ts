import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';

describe('Ctrl-C during a task', () => {
  it('stops at once with exit 130 and a one-line message, no stack trace', async () => {
    const child = spawn('node', ['--import', 'tsx', 'test/fixtures/slow-steps.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 300 && !stdout.includes('Wait a long time'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toContain('Wait a long time');
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr.trim()).toBe('interrupted: nothing more is started; the next run converges');
  }, 60_000);
});
