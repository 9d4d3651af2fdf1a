// tasks/apply.ts as a user meets it: documented flags and exit codes, usage errors before any work.
import { describe, expect, it } from '@jest/globals';
import { $ } from 'zx';

const applyTask = (args: string[]) => $({ quiet: true, nothrow: true })`npx --no-install tsx tasks/apply.ts ${args}`;

describe('tasks/apply.ts', () => {
  it('documents its flags and exit codes', async () => {
    const r = await applyTask(['--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of ['--stage', '--destroy', '--destroy-data', '--allow-data-loss', '--dry-run', '--yes', '--site', '--verbose']) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('4   a safety gate refused');
  });

  it('rejects bad usage with exit 2, naming the flag', async () => {
    const stage = await applyTask(['--stage', 'staging']);
    expect(stage.exitCode).toBe(2);
    expect(stage.stderr).toContain('--stage must be one of lab, prod, not "staging"');
    const data = await applyTask(['--stage', 'lab', '--destroy-data']);
    expect(data.exitCode).toBe(2);
    expect(data.stderr).toContain('--destroy-data only goes with --destroy');
  });
});
