// The scripts configure runs on the control node, run here against a temp dir standing in for
// its data disk: key placement, the locked / unlocked key check, unlocking into an agent,
// unpacking the bundle; plus the recap parser and the vault password sources.
import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { bundleStream, secretsStream, stageVars, vaultPassword } from '../../tasks/lib/configure/bundle';
import { failureLines, parseRecap, totalChanged } from '../../tasks/lib/configure/recap';
import { installSecretsScript, type NodeLayout, nodePaths, parseProbe, playbookScript, probeScript, unlockScript, unpackScript } from '../../tasks/lib/configure/remote';
import { parseAnsibleYaml } from '../../tasks/lib/shared/ansible-yaml';
import { localLink } from '../../tasks/lib/shared/link';
import { loadSite } from '../../tasks/lib/model/index';

const tmp = mkdtempSync(join(tmpdir(), 'homeprod-ansible-remote-'));
const agentPids: string[] = [];
afterAll(async () => {
  for (const pid of agentPids) await $({ nothrow: true, quiet: true })`kill ${pid}`;
  rmSync(tmp, { recursive: true, force: true });
});

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const link = localLink('test-node');

async function keyPair(name: string, passphrase: string): Promise<string> {
  const file = join(tmp, name);
  await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${passphrase} -C test -f ${file}`;
  return file;
}

async function probe(layout: NodeLayout) {
  const result = await link.run(probeScript(layout));
  expect(result.exitCode).toBe(0);
  return parseProbe(result.stdout);
}

async function install(layout: NodeLayout, key: string, password: string) {
  const { stream, cleanup } = secretsStream('lab', key, { text: password, source: 'test' });
  const result = await link.run(installSecretsScript(layout), { input: stream });
  cleanup();
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

describe('control node scripts', () => {
  it('place the key pair and vault password 0600 and see a key without passphrase as usable', async () => {
    const layout: NodeLayout = { dir: join(tmp, 'node1'), stage: 'lab', agentSocket: join(tmp, 'agent1.sock') };
    expect((await probe(layout)).key).toBe('missing');
    const key = await keyPair('plain', '');
    await install(layout, key, 'vault secret');
    const p = nodePaths(layout);
    const found = await probe(layout);
    expect(found.key).toBe('plain');
    expect(found.publicKey).toBe(readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' '));
    expect(found.vaultHash).toBe(createHash('sha256').update('vault secret\n').digest('hex'));
    expect(found.ansiblePlaybook).toBe(true);
    expect(mode(p.key)).toBe('600');
    expect(mode(p.vaultFile)).toBe('600');
    expect(mode(join(layout.dir, 'keys'))).toBe('700');
    expect(readFileSync(p.key)).toEqual(readFileSync(key));
  });

  it('report a passphrase-protected key as locked until it is unlocked into the agent', async () => {
    const layout: NodeLayout = { dir: join(tmp, 'node2'), stage: 'lab', agentSocket: join(tmp, 'run', 'agent2.sock') };
    const key = await keyPair('locked', 'correct horse');
    await install(layout, key, 'v');
    expect((await probe(layout)).key).toBe('locked');

    const wrong = await link.run(unlockScript(layout), { input: 'battery staple\n' });
    if (existsSync(`${layout.agentSocket}.pid`)) agentPids.push(readFileSync(`${layout.agentSocket}.pid`, 'utf8').trim());
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stderr).not.toContain('battery');
    expect((await probe(layout)).key).toBe('locked');

    const right = await link.run(unlockScript(layout), { input: 'correct horse\n' });
    expect(right.stderr).toBe('');
    expect(right.exitCode).toBe(0);
    expect(right.stdout).not.toContain('correct horse');
    expect((await probe(layout)).key).toBe('agent');
    expect(agentPids[0]).toMatch(/^\d+$/);
  });

  it('replace the bundle as a whole and install the shipped known_hosts', async () => {
    const layout: NodeLayout = { dir: join(tmp, 'node3'), stage: 'prod', agentSocket: join(tmp, 'agent3.sock') };
    const renderDir = join(tmp, 'render');
    mkdirSync(join(renderDir, 'inventory'), { recursive: true });
    mkdirSync(join(renderDir, 'hosts', 'prod-proxy', 'nginx'), { recursive: true });
    writeFileSync(join(renderDir, 'inventory', 'hosts.yml'), 'all: {}\n');
    writeFileSync(join(renderDir, 'hosts', 'prod-proxy', 'nginx', 'nginx.conf'), 'events {}\n');
    const knownHosts = join(tmp, 'known_hosts');
    writeFileSync(knownHosts, '10.0.0.1,prod-proxy ssh-ed25519 AAAA\n');
    const p = nodePaths(layout);
    mkdirSync(join(p.bundle, 'stale'), { recursive: true });

    const { stream, cleanup } = bundleStream({ renderDir, knownHosts, vaultFile: null, varsText: stageVars(loadSite(), 'prod', p.bundle) });
    const result = await link.run(unpackScript(layout), { input: stream });
    cleanup();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    for (const file of ['ansible/site.yml', 'ansible/roles/nginx/tasks/main.yml', 'inventory/hosts.yml', 'hosts/prod-proxy/nginx/nginx.conf', 'vars/homeprod.yml']) {
      expect(existsSync(join(p.bundle, file))).toBe(true);
    }
    expect(existsSync(join(p.bundle, 'stale'))).toBe(false);
    expect(readFileSync(p.knownHosts, 'utf8')).toBe(readFileSync(knownHosts, 'utf8'));
    expect(parseAnsibleYaml(readFileSync(join(p.bundle, 'vars/homeprod.yml'), 'utf8'))).toMatchObject({ homeprod_bundle_dir: p.bundle });
  });

  it('run ansible-playbook with the stage vault id and the key, never with the password', () => {
    const layout: NodeLayout = { dir: '/var/lib/ansible', stage: 'lab', agentSocket: '/run/homeprod/ssh-agent.sock' };
    const script = playbookScript(layout, { useAgent: true, varsFiles: ['vars/homeprod.yml'] });
    expect(script).toContain("'--vault-id' 'lab@/var/lib/ansible/vault/lab.pass'");
    expect(script).toContain("ANSIBLE_PRIVATE_KEY_FILE='/var/lib/ansible/keys/lab-control'");
    expect(script).toContain("export SSH_AUTH_SOCK='/run/homeprod/ssh-agent.sock'");
    expect(playbookScript(layout, { useAgent: false, varsFiles: [] })).toContain('unset SSH_AUTH_SOCK');
  });
});

describe('vault password', () => {
  it('comes from the environment first, else a file made once with mode 0600', () => {
    const env = { HOMEPROD_STATE_ROOT: join(tmp, 'state') };
    expect(vaultPassword('lab', { ...env, HOMEPROD_VAULT_PASSWORD_LAB: 'from-env' })).toEqual({ text: 'from-env', source: 'HOMEPROD_VAULT_PASSWORD_LAB' });
    const made = vaultPassword('lab', env);
    expect(made.text.length).toBeGreaterThanOrEqual(32);
    expect(mode(made.source)).toBe('600');
    expect(vaultPassword('lab', env).text).toBe(made.text);
    expect(() => vaultPassword('prod', { ...env, HOMEPROD_VAULT_PASSWORD_FILE_PROD: join(tmp, 'nope') })).toThrow(/HOMEPROD_VAULT_PASSWORD_FILE_PROD: .*nope does not exist/);
  });
});

const RUN = `PLAY [Configure the stage proxies] *********************************************

TASK [nginx : Refuse a release that nginx rejects, keeping the live configuration] ***
fatal: [lab-proxy]: FAILED! => {"changed": false, "msg": "nginx rejected the rendered configuration of lab-proxy; the live configuration is unchanged: nginx: [emerg] unknown directive \\"bogus\\" in /etc/homeprod/nginx/releases/abc/homeprod/http/x.conf:1"}
failed: [lab-whoami] (item=whoami-lab) => {"ansible_loop_var": "item", "changed": false, "msg": "Unable to start service"}

PLAY RECAP *********************************************************************
lab-ansible                : ok=20   changed=3    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0
lab-proxy                  : ok=12   changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
lab-whoami                 : ok=7    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
`;

describe('ansible-playbook output', () => {
  it('gives counts per host from the recap', () => {
    const recap = parseRecap(RUN);
    expect(Object.keys(recap)).toEqual(['lab-ansible', 'lab-proxy', 'lab-whoami']);
    expect(recap['lab-ansible']).toEqual({ ok: 20, changed: 3, unreachable: 0, failed: 0, skipped: 2, rescued: 0, ignored: 0 });
    expect(recap['lab-whoami']!.unreachable).toBe(1);
    expect(totalChanged(recap)).toBe(4);
    expect(parseRecap('PLAY [x] ***\nERROR! no inventory')).toEqual({});
  });

  it('gives one line per failure with the module message', () => {
    expect(failureLines(RUN)).toEqual([
      'lab-proxy: nginx rejected the rendered configuration of lab-proxy; the live configuration is unchanged: nginx: [emerg] unknown directive "bogus" in /etc/homeprod/nginx/releases/abc/homeprod/http/x.conf:1',
      'lab-whoami (whoami-lab): Unable to start service',
    ]);
  });
});
