import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { loadSite } from '../../tasks/lib/model';

// No TTY here (zx pipes stdio), and CI=1: the task must never prompt.
const addService = (...args: string[]) => $({ nothrow: true, env: { ...process.env, CI: '1', NO_COLOR: '1' } })`npx --no-install tsx tasks/add-service.ts ${args}`;

let dir: string;
let siteFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'add-service-cli-'));
  siteFile = join(dir, 'site.yaml');
  copyFileSync('inventory/site.yaml', siteFile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tasks/add-service.ts with flags only', () => {
  it('adds a lab service, prints the diff and the next command, and the site stays valid', async () => {
    const before = readFileSync(siteFile, 'utf8');
    const result = await addService('--site', siteFile, '--name', 'grafana', '--stage', 'lab', '--upstream', 'lab-whoami', '--port', '3000', '--websocket', '--yes');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('+  - name: grafana\n+    stage: lab\n+    hostnames: [grafana.lab.pegasuspad.com]\n+    upstream: { host: lab-whoami, port: 3000 }\n+    websocket: true\n');
    expect(result.stdout).toContain(`Next: npx tsx tasks/up.ts --stage lab --site ${siteFile}`);
    expect(readFileSync(siteFile, 'utf8').startsWith(before)).toBe(true);
    expect(loadSite(siteFile).services.map((s) => s.name)).toEqual(['whoami', 'whoami-lab', 'grafana']);
  });

  it('fails with one line naming the flag: bad value exit 2, missing answer exit 4, no --yes exit 4', async () => {
    const before = readFileSync(siteFile, 'utf8');
    const bad = await addService('--site', siteFile, '--name', 'api', '--stage', 'lab', '--upstream', 'lab-whoami', '--port', 'http');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('error: --port: "http" is not a port (1-65535)\n');

    const taken = await addService('--site', siteFile, '--name', 'api', '--stage', 'lab', '--upstream', 'lab-whoami', '--port', '80', '--hostname', 'grafana.lab.pegasuspad.com', '--yes');
    expect(taken.exitCode).toBe(2);
    expect(taken.stderr).toContain('error: --hostname: "grafana.lab.pegasuspad.com" is already served by grafana (lab)');

    const missing = await addService('--site', siteFile, '--name', 'api');
    expect(missing.exitCode).toBe(4);
    expect(missing.stderr).toContain('error: no terminal to ask on: pass --stage, --upstream, --port');

    const noYes = await addService('--site', siteFile, '--name', 'api', '--stage', 'prod', '--upstream', '10.111.1.99', '--port', '80');
    expect(noYes.exitCode).toBe(4);
    expect(noYes.stderr).toContain('pass --yes');

    const both = await addService('--site', siteFile, '--websocket', '--no-websocket');
    expect(both.exitCode).toBe(2);
    expect(readFileSync(siteFile, 'utf8')).toBe(before);
    for (const r of [bad, taken, missing, noYes, both]) expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);

  it('documents its flags and exit codes in --help', async () => {
    const help = await addService('--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('--max-body-size');
    expect(help.stdout).toContain('Exit codes:');
  });
});
