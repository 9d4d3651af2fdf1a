// Host keys on the proxmox platform: the pairs homeprod makes are real OpenSSH keys (ssh-keygen
// and sshd read them), are kept 0600 and reused, the user-data snippets carry them, the
// known_hosts reach() writes matches the public keys in the snippets, and ssh with exactly
// reach()'s options connects to an sshd presenting that key (inside a network namespace this
// test makes), and refuses one presenting another.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { $ } from 'zx';
import { synthStage } from '../../stacks/main';
import { loadSite } from '../../tasks/lib/model/index';
import { proxmoxPlatform } from '../../tasks/lib/platform/proxmox';
import { reachArgs } from '../../tasks/lib/platform/proxmox/reach';
import { ed25519KeyPair, HostKeyStore, keyMaterial } from '../../tasks/lib/shared/host-keys';
import { controlKey } from '../../tasks/lib/shared/keys';
import { hostKeysDir, snippetsDir } from '../../tasks/lib/shared/paths';
import { synthOptions } from '../../tasks/lib/synth';
import { startSshd } from '../helpers/sshd';

const work = mkdtempSync(join(tmpdir(), 'homeprod-hostkeys-'));
const NETNS = 'hp13hk';
afterAll(async () => {
  await $({ nothrow: true, quiet: true })`ip netns del ${NETNS}`;
  rmSync(work, { recursive: true, force: true });
});

const derivedPublic = async (privateKey: string, name: string) => {
  const file = join(work, `${name}.key`);
  writeFileSync(file, privateKey, { mode: 0o600 });
  return keyMaterial((await $({ quiet: true })`ssh-keygen -y -f ${file}`).stdout);
};

describe('homeprod-made host keys', () => {
  it('are ed25519 keys ssh-keygen reads; a seed makes the same pair, no seed a new one', async () => {
    const a = ed25519KeyPair('root@a');
    expect(await derivedPublic(a.privateKey, 'a')).toBe(keyMaterial(a.publicKey));
    expect(a.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+ root@a$/);
    const seed = Buffer.alloc(32, 1);
    expect(ed25519KeyPair('x', seed)).toEqual(ed25519KeyPair('x', seed));
    expect(ed25519KeyPair('root@a').publicKey).not.toBe(a.publicKey);
    const fp = await $({ quiet: true })`ssh-keygen -l -f ${join(work, 'a.key')}`;
    expect(fp.stdout).toMatch(/^256 SHA256:\S+ root@a \(ED25519\)/);
  });

  it('are made once per host, 0600 in a 0700 directory, and kept', () => {
    const store = new HostKeyStore(join(work, 'store', 'lab'));
    const first = store.ensure('lab-proxy');
    expect(store.ensure('lab-proxy')).toEqual(first);
    expect(statSync(join(store.dir, 'lab-proxy', 'ssh_host_ed25519_key')).mode & 0o777).toBe(0o600);
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(store.dir, 'lab-proxy')).mode & 0o777).toBe(0o700);
    expect(store.hosts()).toEqual(['lab-proxy']);
    expect(store.publicKey('lab-whoami')).toBeNull();
  });
});

describe('host keys through synthesis and reach()', () => {
  const site = loadSite('inventory/site.yaml');
  const root = join(work, 'state');
  const env = { ...process.env, HOMEPROD_STATE_ROOT: root };
  const lab = { ...site.stages.lab, platform: 'proxmox' as const };
  const labSite = { ...site, stages: { ...site.stages, lab } };
  const synth = () => synthStage(labSite, 'lab', { ...synthOptions(labSite, 'lab', { root, stateDir: join(root, 'terraform'), outdir: join(work, 'out') }), platform: 'proxmox' });
  const hosts = site.hosts.filter((h) => h.stage === 'lab');

  it('the known_hosts reach() writes matches the public keys in the snippets, and the private keys there', async () => {
    synth();
    const snippets = readdirSync(snippetsDir(root, 'lab'));
    expect(snippets).toHaveLength(hosts.length);
    const peers = hosts.map((h) => ({ name: h.name, ipv4: h.ipv4! }));
    const control = peers.find((p) => p.name === 'lab-ansible')!;
    const link = proxmoxPlatform.reach(control, lab, env, peers);
    const knownHosts = readFileSync(link.knownHosts!, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(knownHosts).toHaveLength(hosts.length);
    for (const host of hosts) {
      const file = snippets.find((f) => f.startsWith(`${host.name}-user-data-`))!;
      const { ssh_keys } = parseYaml(readFileSync(join(snippetsDir(root, 'lab'), file), 'utf8')) as { ssh_keys: { ed25519_private: string; ed25519_public: string } };
      const line = knownHosts.find((l) => l.startsWith(`${host.ipv4},${host.name} `));
      expect(line).toBe(`${host.ipv4},${host.name} ${keyMaterial(ssh_keys.ed25519_public)}`);
      expect(await derivedPublic(ssh_keys.ed25519_private, host.name)).toBe(keyMaterial(ssh_keys.ed25519_public));
      expect(statSync(join(snippetsDir(root, 'lab'), file)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(link.knownHosts!).mode & 0o777).toBe(0o600);
  });

  it('a second synthesis keeps every key, snippet name and file (the provider sees no change)', () => {
    const dir = snippetsDir(root, 'lab');
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]));
    const keys = new HostKeyStore(hostKeysDir(root, 'lab')).hosts().map((h) => new HostKeyStore(hostKeysDir(root, 'lab')).publicKey(h));
    synth();
    expect(Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]))).toEqual(before);
    expect(new HostKeyStore(hostKeysDir(root, 'lab')).hosts().map((h) => new HostKeyStore(hostKeysDir(root, 'lab')).publicKey(h))).toEqual(keys);
  });

  it('no private key reaches the synthesized JSON', () => {
    const out = synth();
    for (const stack of out.stacks) {
      const json = readFileSync(join(stack.dir, 'cdk.tf.json'), 'utf8');
      expect(json).not.toContain('PRIVATE KEY');
      for (const host of hosts) expect(json).not.toContain(new HostKeyStore(hostKeysDir(root, 'lab')).ensure(host.name).privateKey.split('\n')[2]);
    }
  });

  it('ssh with reach()\'s options connects to the VM\'s key and refuses any other (a real sshd in a namespace)', async () => {
    await $({ quiet: true })`ip netns add ${NETNS}`;
    await $({ quiet: true })`ip netns exec ${NETNS} ip link set lo up`;
    const control = await controlKey('lab', env);
    const vm = { name: 'lab-whoami', ipv4: '127.0.0.1' };
    const { args } = reachArgs(vm, lab, env, [vm]);
    expect(args).toEqual(expect.arrayContaining(['StrictHostKeyChecking=yes', `UserKnownHostsFile=${join(hostKeysDir(root, 'lab'), 'known_hosts')}`, '-i', control.privateKey, 'root@127.0.0.1']));
    const ssh = () => $({ nothrow: true, quiet: true })`ip netns exec ${NETNS} ssh ${args} ${['--', 'id', '-un']}`;
    const good = await startSshd(join(work, 'sshd-good'), { address: '127.0.0.1', port: 22, hostKey: new HostKeyStore(hostKeysDir(root, 'lab')).ensure('lab-whoami'), authorizedKeys: [control.publicKey], netns: NETNS });
    try {
      const r = await ssh();
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('root');
    } finally {
      await good.stop();
    }
    const impostor = await startSshd(join(work, 'sshd-other'), { address: '127.0.0.1', port: 22, hostKey: ed25519KeyPair('root@impostor'), authorizedKeys: [control.publicKey], netns: NETNS });
    try {
      const r = await ssh();
      expect(r.exitCode).toBe(255);
      expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    } finally {
      await impostor.stop();
    }
  });
});
