// What a task prints without a terminal (CI): by default each step's result and the errors,
// none of the tools' own output; with --verbose every line of it too, each labelled with the
// stack it came from, although two stacks run at a time and their lines interleave.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';

const work = mkdtempSync(join(tmpdir(), 'homeprod-ci-output-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// stdin closed and stdout a pipe, as in CI; CI itself unset, so only the missing TTY decides.
const run = (dir: string, ...flags: string[]) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.CI;
  return $({ quiet: true, nothrow: true, env, stdio: ['ignore', 'pipe', 'pipe'] })`node --import tsx test/fixtures/ci-output.ts ${join(work, dir)} ${flags}`;
};
const TERRAFORM_LINE = /Initializing the backend|Terraform has been successfully initialized|terraform_data\.vm|Plan: 1 to add/;

describe('output without a terminal', () => {
  it('prints only the step results by default', async () => {
    const r = await run('quiet');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^✔ lab-one-vm: applied \(1 to add, 0 to change, 0 to destroy\)$/m);
    expect(r.stdout).toMatch(/^✔ lab-two-vm: applied \(1 to add, 0 to change, 0 to destroy\)$/m);
    expect(r.stdout).toMatch(/^✔ Read 2 lab host outputs$/m);
    expect(r.stdout).not.toMatch(TERRAFORM_LINE);
    // No "started" lines either: each step appears once, with its result.
    expect(r.stdout).not.toContain('❯');
  }, 120_000);

  it('with --verbose prints every terraform line, each with the stack it came from', async () => {
    const r = await run('verbose', '--verbose');
    expect(r.exitCode).toBe(0);
    const toolLines = r.stdout.split('\n').filter((line) => TERRAFORM_LINE.test(line));
    expect(toolLines.length).toBeGreaterThanOrEqual(8);
    const unlabelled = toolLines.filter((line) => !/^› \[lab-(one|two)-vm\] /.test(line));
    expect(unlabelled).toEqual([]);
    for (const stack of ['lab-one-vm', 'lab-two-vm']) {
      expect(r.stdout).toContain(`› [${stack}] Terraform has been successfully initialized!`);
      expect(r.stdout).toContain(`› [${stack}] Plan: 1 to add, 0 to change, 0 to destroy.`);
    }
    expect(r.stdout).toMatch(/^❯ Plan the lab stacks$/m);
    expect(r.stdout).toMatch(/^✔ lab-one-vm: applied/m);
  }, 120_000);

  it('prints a failing tool\'s error by default, with the stack it came from', async () => {
    const r = await run('broken', '--broken');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).not.toMatch(TERRAFORM_LINE);
    expect(r.stderr).toMatch(/error: terraform (init|plan) failed in \S+\/lab-two-vm: Extraneous JSON object property/);
    expect(r.stderr).toContain('No argument or block type is named "no_such_argument"');
    expect(r.stderr).toMatch(/^✖ lab-two-vm \[FAILED: /m);
  }, 120_000);
});
