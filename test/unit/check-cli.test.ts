import { describe, expect, it } from '@jest/globals';
import { $ } from 'zx';
import { stageSummary } from '../../tasks/lib/check';
import { PROXMOX_PROVIDER } from '../../stacks/provider-pin';
import { loadSite } from '../../tasks/lib/model';

const check = (...args: string[]) => $({ nothrow: true, env: { ...process.env, CI: '1', NO_COLOR: '1' } })`npx --no-install tsx tasks/check.ts ${args}`;

describe('tasks/check.ts', () => {
  it('prints the Pegasus summary and exits 0', async () => {
    const result = await check();
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/prod-proxy-passthrough\s+10\.111\.1\.10\s+vmid 4010\s+passthrough/);
    expect(result.stdout).toMatch(/lab-ansible\s+10\.111\.2\.12\s+vmid 5012\s+control-node\s+data: \/var\/lib\/ansible 8G on lab-ansible-data \(95012\)/);
    expect(result.stdout).toContain('whoami-lab: whoami.lab.pegasuspad.com → prod-proxy-passthrough → lab-proxy → lab-whoami:8080');
    expect(result.stdout).toContain('whoami: whoami.pegasuspad.com → prod-proxy-passthrough → prod-proxy → prod-whoami:8080');
    // The one pinned provider version, from stacks/provider-pin.ts.
    expect(result.stdout).toContain(`terraform provider bpg/proxmox ${PROXMOX_PROVIDER.version} (pinned in stacks/provider-pin.ts), for stages on proxmox: none`);
  });

  it('names a shared certificate beside the service, and nothing for one of its own', () => {
    const site = loadSite();
    const shared = { ...site, services: site.services.map((s) => (s.name === 'whoami-lab' ? { ...s, certificate: 'lab-apps' } : s)) };
    expect(stageSummary(shared, 'lab')).toContain('    whoami-lab: whoami.lab.pegasuspad.com → prod-proxy-passthrough → lab-proxy → lab-whoami:8080  (certificate lab-apps)');
    expect(stageSummary(site, 'lab')).toContain('    whoami-lab: whoami.lab.pegasuspad.com → prod-proxy-passthrough → lab-proxy → lab-whoami:8080');
  });

  it('exits 1 with one path: message line per mistake', async () => {
    const result = await check('--site', 'test/fixtures/bad-site/site.yaml');
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.split('\n').filter((l) => /^\s+test\/fixtures\/bad-site\/[\w-]+\.yaml:\d+:\d+: /.test(l));
    expect(lines).toHaveLength(6);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 on an unknown flag, with --help naming the exit codes', async () => {
    expect((await check('--frobnicate')).exitCode).toBe(2);
    const help = await check('--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
  });
});
