// The certificates role run by real Ansible on this machine (connection local), with every
// path it writes redirected into a temp dir: the `files` mode (which no end-to-end run uses)
// and a certificate shared by two services from the stage's own CA. A reload handler stands in
// for the nginx role's, only to record that the role asked for one.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { $ } from 'zx';
import { ANSIBLE_DIR } from '../../tasks/lib/configure/bundle';
import { issueCertificate, makeCa } from '../helpers/render-nginx';

const tmp = mkdtempSync(join(tmpdir(), 'homeprod-certificates-role-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CERTIFICATES = [
  { name: 'lab-apps', hostnames: ['notes.lab.pegasuspad.com', 'wiki.lab.pegasuspad.com', 'paste.lab.pegasuspad.com'] },
  { name: 'whoami.lab.pegasuspad.com', hostnames: ['whoami.lab.pegasuspad.com'] },
];

interface Run {
  ok: boolean;
  output: string;
  changed: number;
  reloaded: boolean;
}

/** Runs the role on this machine as control node and stage proxy of a lab stage in `mode`. */
async function runRole(dir: string, tls: Record<string, unknown>): Promise<Run> {
  const marker = join(dir, 'reloaded');
  rmSync(marker, { force: true });
  const inventory = {
    all: {
      vars: { homeprod_stage: 'lab', homeprod_tls: tls, homeprod_certificates: CERTIFICATES },
      hosts: { proxy: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' } },
      children: { control_nodes: { hosts: { proxy: null } }, stage_proxies: { hosts: { proxy: null } }, certificate_hosts: { hosts: {} } },
    },
  };
  const play = [
    {
      name: 'The certificates role',
      hosts: 'all',
      vars: { certificates_ca_dir: join(dir, 'ca'), certificates_tls_dir: join(dir, 'tls') },
      roles: ['certificates'],
      handlers: [{ name: 'Record the reload', 'ansible.builtin.file': { path: marker, state: 'touch', mode: '0644' }, listen: 'Reload nginx' }],
    },
  ];
  writeFileSync(join(dir, 'hosts.yml'), stringify(inventory));
  writeFileSync(join(dir, 'play.yml'), stringify(play));
  const result = await $({
    cwd: ANSIBLE_DIR,
    nothrow: true,
    quiet: true,
    env: { ...process.env, ANSIBLE_ROLES_PATH: join(ANSIBLE_DIR, 'roles'), ANSIBLE_LOCAL_TEMP: join(dir, '.ansible'), NO_COLOR: '1' },
  })`ansible-playbook -i ${join(dir, 'hosts.yml')} ${join(dir, 'play.yml')}`;
  const output = `${result.stdout}${result.stderr}`;
  const changed = Number(/proxy\s+: ok=\d+\s+changed=(\d+)/.exec(output)?.[1] ?? NaN);
  return { ok: result.exitCode === 0, output, changed, reloaded: existsSync(marker) };
}

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const sans = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).match(/DNS:[^,\s]+/g);

describe('the certificates role', () => {
  it('files mode: refuses with the missing file named and places nothing, then installs what was provided, once', async () => {
    const dir = join(tmp, 'files');
    const provided = join(dir, 'provided');
    mkdirSync(provided, { recursive: true });
    const ca = makeCa(join(dir, 'user-ca'));
    for (const c of CERTIFICATES) {
      const issued = issueCertificate(ca, join(dir, 'issued'), c.hostnames, c.name);
      writeFileSync(join(provided, `${c.name}.crt`), readFileSync(join(issued, 'fullchain.pem')));
      if (c.name !== 'lab-apps') writeFileSync(join(provided, `${c.name}.key`), readFileSync(join(issued, 'privkey.pem')), { mode: 0o600 });
    }

    const missing = await runRole(dir, { mode: 'files', files_dir: provided });
    expect(missing.ok).toBe(false);
    expect(missing.output).toContain(`missing in ${provided} on proxy: ${join(provided, 'lab-apps.key')}`);
    expect(existsSync(join(dir, 'tls'))).toBe(false);

    writeFileSync(join(provided, 'lab-apps.key'), readFileSync(join(dir, 'issued', 'lab-apps', 'privkey.pem')), { mode: 0o600 });
    const first = await runRole(dir, { mode: 'files', files_dir: provided });
    expect(first.output).not.toContain('BEGIN PRIVATE KEY');
    expect(first.ok).toBe(true);
    expect(first.reloaded).toBe(true);
    for (const c of CERTIFICATES) {
      expect(readFileSync(join(dir, 'tls', c.name, 'fullchain.pem'), 'utf8')).toBe(readFileSync(join(provided, `${c.name}.crt`), 'utf8'));
      expect(readFileSync(join(dir, 'tls', c.name, 'privkey.pem'), 'utf8')).toBe(readFileSync(join(provided, `${c.name}.key`), 'utf8'));
      expect(mode(join(dir, 'tls', c.name, 'privkey.pem'))).toBe('600');
    }

    const again = await runRole(dir, { mode: 'files', files_dir: provided });
    expect([again.ok, again.changed, again.reloaded]).toEqual([true, 0, false]);
  }, 120_000);

  it('local-ca mode: issues one certificate for every name of the services that share it, from the stage CA', async () => {
    const dir = join(tmp, 'local-ca');
    mkdirSync(dir, { recursive: true });
    const run = await runRole(dir, { mode: 'local-ca' });
    expect(run.ok).toBe(true);
    for (const c of CERTIFICATES) {
      const chain = join(dir, 'tls', c.name, 'fullchain.pem');
      expect(sans(chain)).toEqual(c.hostnames.map((h) => `DNS:${h}`));
      expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca', 'ca.crt'), chain], { encoding: 'utf8' })).toContain(': OK');
      expect(mode(join(dir, 'tls', c.name, 'privkey.pem'))).toBe('600');
    }
    expect(mode(join(dir, 'ca', 'ca.key'))).toBe('600');
  }, 120_000);
});
