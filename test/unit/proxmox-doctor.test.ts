// The proxmox doctor against an HTTPS server on loopback that answers as the Proxmox VE API
// does (its certificate from a CA this test makes, trusted through proxmox.caCert, never by
// turning verification off), a real sshd on loopback standing for the node's SSH, and a real
// ssh-agent. Each bad input gives exactly one line that says what to do; the token's secret
// is in none of them.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { PROXMOX_PROVIDER } from '../../stacks/provider-pin';
import { loadSite } from '../../tasks/lib/model/index';
import type { Site, Stage } from '../../tasks/lib/model/types';
import { proxmoxPlatform } from '../../tasks/lib/platform/proxmox';
import { proxmoxApi } from '../../tasks/lib/platform/proxmox/api';
import { DoctorContext } from '../../tasks/lib/platform/proxmox/context';
import { doctorStage, problemsOf } from '../../tasks/lib/platform/proxmox/doctor';
import { osArch } from '../../tasks/lib/platform/proxmox/provider-check';
import { privilegeNeeds } from '../../tasks/lib/platform/proxmox/requirements';
import { nodeSshTarget, sudoProblems } from '../../tasks/lib/platform/proxmox/ssh-check';
import { ed25519KeyPair, keyMaterial } from '../../tasks/lib/shared/host-keys';
import { ALL_PRIVILEGES, type EmulatedApi, readyCluster, startProxmoxApi } from '../helpers/proxmox-api';
import { freePort, startAgent, startSshd, type TestAgent, type TestSshd } from '../helpers/sshd';

const TOKEN_ID = 'terraform@pve!homeprod';
const SECRET = `5ecre7-${process.pid}-0b5e9c1e-7a41-4c36`;
const REAL_SHA256 = 'a3c1f9e0b8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1';

const work = mkdtempSync(join(tmpdir(), 'homeprod-doctor-'));
let api: EmulatedApi;
let sshd: TestSshd;
let agent: TestAgent;
const home = join(work, 'home');
const mirror = join(work, 'mirror');
const nodeHostKey = ed25519KeyPair('root@pve');
let agentPub = '';

const shipped = loadSite('inventory/site.yaml');
const image = shipped.images['debian-12']!;

beforeAll(async () => {
  api = await startProxmoxApi(join(work, 'api'), readyCluster(TOKEN_ID, SECRET, image.url));
  await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${''} -C operator -f ${join(work, 'operator')}`;
  agentPub = readFileSync(join(work, 'operator.pub'), 'utf8').trim();
  agent = await startAgent(join(work, 'agent'), join(work, 'operator'));
  sshd = await startSshd(join(work, 'sshd'), { address: '127.0.0.1', port: await freePort(), hostKey: nodeHostKey, authorizedKeys: [agentPub] });
  // The provider's own file: ~/.ssh/known_hosts of the user terraform runs as.
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${sshd.port} ${keyMaterial(nodeHostKey.publicKey)}\n`);
  // The provider binary cannot run here: the mirror holds the layout terraform reads, with an empty file.
  const unpacked = join(mirror, 'registry.terraform.io', 'bpg', 'proxmox', '0.78.2', osArch());
  mkdirSync(unpacked, { recursive: true });
  writeFileSync(join(unpacked, 'terraform-provider-proxmox_v0.78.2'), '');
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  await agent?.stop();
  await api?.close();
  rmSync(work, { recursive: true, force: true });
});

const baseEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  SSH_AUTH_SOCK: agent.sock,
  PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=${SECRET}`,
  HOMEPROD_TF_PLUGIN_DIR: mirror,
});

/** The shipped site with lab on the emulated cluster (a fresh copy per test). */
function labSite(edit: (stage: Stage, site: Site) => void = () => {}): Site {
  const site = structuredClone(shipped);
  const lab = site.stages.lab;
  lab.platform = 'proxmox';
  lab.proxmox = { ...lab.proxmox, endpoint: api.endpoint, caCert: api.caFile, sshUser: 'root', sshNodes: [{ name: 'pve', address: '127.0.0.1', port: sshd.port }] };
  site.images['debian-12'] = { ...image, sha256: REAL_SHA256 };
  edit(lab, site);
  return site;
}

async function problems(site: Site, env: NodeJS.ProcessEnv = baseEnv(), insecure = false): Promise<string[]> {
  const found = problemsOf(await doctorStage(site, site.stages.lab, { env, insecure }));
  for (const p of found) expect(p).not.toContain(SECRET);
  return found;
}

beforeEach(() => {
  api.cluster.version = '8.2.4';
  api.cluster.acl = { '/': ALL_PRIVILEGES };
  api.requests.length = 0;
});

describe('doctor against an emulated Proxmox VE API', () => {
  it('finds nothing wrong with a ready cluster, asking the documented endpoints', async () => {
    const doctor = await doctorStage(labSite(), labSite().stages.lab, { env: baseEnv(), insecure: false });
    expect(problemsOf(doctor)).toEqual([]);
    expect(doctor.version).toBe('8.2.4');
    expect(doctor.results.every((r) => !r.skipped)).toBe(true);
    const paths = api.requests.map((r) => r.replace(/\?.*/, ''));
    for (const p of ['/version', '/nodes', '/nodes/pve/storage', '/access/permissions', '/nodes/pve/query-url-metadata', '/storage/local']) expect(paths).toContain(`GET /api2/json${p}`);
    expect(api.requests).toContain(`GET /api2/json/access/permissions?path=${encodeURIComponent('/vms/5012')}`);
    expect(api.requests).toContain(`GET /api2/json/access/permissions?path=${encodeURIComponent('/storage/hdd')}`);
  });

  it('a wrong token: one line (401), and nothing else is asked', async () => {
    const found = await problems(labSite(), { ...baseEnv(), PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=wrong-${SECRET}` });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^PROXMOX_VE_API_TOKEN: https:\/\/127\.0\.0\.1:\d+\/ refused the token terraform@pve!homeprod \(401 invalid token value!\): check its id and secret/);
    expect(found[0]).not.toContain('wrong-');
    expect(api.requests).toEqual(['GET /api2/json/version']);
  });

  it('no token, or a malformed one: one line each, without asking the API', async () => {
    const { PROXMOX_VE_API_TOKEN: _drop, ...noToken } = baseEnv();
    expect(await problems(labSite(), noToken)).toEqual([expect.stringMatching(/^PROXMOX_VE_API_TOKEN is not set: create a token/)]);
    expect(await problems(labSite(), { ...baseEnv(), PROXMOX_VE_API_TOKEN: SECRET })).toEqual([expect.stringMatching(/^PROXMOX_VE_API_TOKEN is not of the form USER@REALM!TOKENID=SECRET/)]);
    expect(api.requests).toEqual([]);
  });

  it('an unreachable API: one line', async () => {
    const port = await freePort();
    const found = await problems(labSite((lab) => (lab.proxmox.endpoint = `https://127.0.0.1:${port}/`)));
    expect(found).toEqual([expect.stringMatching(new RegExp(`^stages\\.lab\\.proxmox\\.endpoint: https://127\\.0\\.0\\.1:${port}/ does not answer \\(.*ECONNREFUSED.*\\): check the address and port`))]);
  });

  it('verifies the certificate: without the CA one line; --insecure is the only way around it', async () => {
    const untrusted = labSite((lab) => delete lab.proxmox.caCert);
    const found = await problems(untrusted);
    expect(found).toEqual([expect.stringMatching(/^stages\.lab\.proxmox\.endpoint: the certificate of https:\/\/127\.0\.0\.1:\d+\/ does not verify \(.*\): set stages\.lab\.proxmox\.caCert to a copy of the node's \/etc\/pve\/pve-root-ca\.pem/)]);
    expect(await problems(untrusted, baseEnv(), true)).toEqual([]);
    // The site's old `insecure: true` alone turns nothing off.
    expect(await problems(labSite((lab) => (lab.proxmox.insecure = true)))).toEqual([expect.stringMatching(/^stages\.lab\.proxmox\.insecure: homeprod verifies the API certificate whatever this says/)]);
    expect(await problems(labSite((lab) => (lab.proxmox.caCert = join(work, 'missing.pem'))))).toContainEqual(expect.stringMatching(/^stages\.lab\.proxmox\.caCert: cannot read .*missing\.pem/));
  });

  it('a datastore name that does not exist: one line naming the field', async () => {
    const found = await problems(labSite((lab) => (lab.datastores.snippets = 'nosuch')));
    expect(found).toEqual([
      'stages.lab.datastores.snippets: "nosuch" is not a datastore the token sees on node pve (it sees: hdd, local, local-lvm): name one of them, add it (Datacenter → Storage), or grant Datastore.Audit on /storage/nosuch',
    ]);
  });

  it('a datastore without snippets: one line with the command that adds them', async () => {
    const local = api.cluster.storage.find((s) => s.storage === 'local')!;
    const before = local.content;
    local.content = 'iso,vztmpl,backup';
    try {
      expect(await problems(labSite())).toEqual([
        'stages.lab.datastores.snippets: "local" on node pve does not allow content "snippets" (it allows: iso, vztmpl, backup), needed for the cloud-init user-data and network-data: pvesm set local --content iso,vztmpl,backup,snippets on the node',
      ]);
    } finally {
      local.content = before;
    }
  });

  it('a block datastore not listed in datastores.block: one line', async () => {
    expect(await problems(labSite((lab) => (lab.datastores.block = [])))).toEqual([
      'stages.lab.datastores.block: "local-lvm" is lvmthin storage, which holds raw volumes only: add it to stages.lab.datastores.block',
    ]);
  });

  it('a token lacking a privilege: one line per set of paths, saying what to grant', async () => {
    api.cluster.acl = { '/': ALL_PRIVILEGES.filter((p) => p !== 'Datastore.Allocate') };
    expect(await problems(labSite())).toEqual([
      'the token terraform@pve!homeprod lacks Datastore.Allocate on /storage/local: grant them to terraform@pve (pveum acl modify /storage/local --users terraform@pve --roles <a role with them>), and to the token too if it has privilege separation',
    ]);
    api.cluster.acl = { '/': ALL_PRIVILEGES.filter((p) => p !== 'VM.PowerMgmt') };
    expect(await problems(labSite())).toEqual([expect.stringMatching(/^the token terraform@pve!homeprod lacks VM\.PowerMgmt on \/vms\/5012, \/vms\/5011, \/vms\/5013, \/vms\/5020: grant them to terraform@pve \(pveum acl modify \/vms /)]);
  });

  it('privileges granted on sub-paths count, as Proxmox propagates them', async () => {
    const vm = ALL_PRIVILEGES.filter((p) => p.startsWith('VM.'));
    const storage = ALL_PRIVILEGES.filter((p) => p.startsWith('Datastore.'));
    api.cluster.acl = { '/vms': vm, '/storage': storage, '/sdn/zones': ['SDN.Use'] };
    // Only what / lacks; the image URL the node may not be asked about (403) says nothing more.
    expect(await problems(labSite())).toEqual([expect.stringMatching(/^the token terraform@pve!homeprod lacks Sys\.Audit, Sys\.Modify on \/: grant them/)]);
  });

  it('says clearly that the shipped sha256 is a placeholder', async () => {
    const found = await problems(labSite((_lab, site) => (site.images['debian-12'] = image)));
    expect(found).toEqual([`images.debian-12.sha256 is a placeholder, not the checksum of ${image.url}: download the image, run sha256sum on it and put the sum there`]);
    // Also when the API cannot be asked at all.
    const offline = await problems(labSite((lab, site) => ((site.images['debian-12'] = image), (lab.proxmox.endpoint = 'https://127.0.0.1:1/'))));
    expect(offline.some((p) => p.startsWith('images.debian-12.sha256 is a placeholder'))).toBe(true);
  });

  it('an image URL the node cannot fetch, and a file name Proxmox refuses: one line each', async () => {
    const found = await problems(labSite((_lab, site) => (site.images['debian-12'] = { ...image, sha256: REAL_SHA256, url: 'https://cloud.debian.org/nope.qcow2', fileName: 'debian.qcow2' })));
    expect(found).toEqual([
      'images.debian-12.fileName: "debian.qcow2" must end in .img (or .iso): Proxmox keeps downloads in the iso datastore under those names only',
      expect.stringMatching(/^images\.debian-12\.url: node pve cannot fetch https:\/\/cloud\.debian\.org\/nope\.qcow2 \(500 invalid server response/),
    ]);
  });

  it('a Proxmox VE release the pinned provider does not support: one line', async () => {
    api.cluster.version = '7.4-3';
    expect(await problems(labSite())).toEqual([expect.stringMatching(/runs Proxmox VE 7\.4-3; bpg\/proxmox 0\.78\.2 \(stacks\/provider-pin\.ts\) supports 8\.x only/)]);
  });

  it('a node that is not in the cluster: one line, and the node\'s checks wait for it', async () => {
    expect(await problems(labSite((lab) => (lab.proxmox.nodes = ['pve2'])))).toContainEqual('stages.lab.proxmox.nodes[0]: "pve2" is not a node of this cluster (it has: pve): name one of them');
  });

  it('the provider: missing from the mirror is one line; HOMEPROD_TF_REGISTRY=direct needs none', async () => {
    const empty = join(work, 'empty-mirror');
    const found = await problems(labSite(), { ...baseEnv(), HOMEPROD_TF_PLUGIN_DIR: empty });
    expect(found).toEqual([expect.stringMatching(new RegExp(`^bpg/proxmox 0\\.78\\.2 is not in the provider mirror ${empty} .*providers mirror -platform=${osArch()}`))]);
    expect(await problems(labSite(), { ...baseEnv(), HOMEPROD_TF_PLUGIN_DIR: empty, HOMEPROD_TF_REGISTRY: 'direct' })).toEqual([]);
    // The packed layout `terraform providers mirror` writes counts too.
    const packed = join(work, 'packed-mirror', 'registry.terraform.io', 'bpg', 'proxmox');
    mkdirSync(packed, { recursive: true });
    writeFileSync(join(packed, `terraform-provider-proxmox_0.78.2_${osArch()}.zip`), '');
    expect(await problems(labSite(), { ...baseEnv(), HOMEPROD_TF_PLUGIN_DIR: join(work, 'packed-mirror') })).toEqual([]);
  });
});

describe('doctor: SSH to the node, for real', () => {
  it('an unknown host key is refused, not learned: one line', async () => {
    const emptyHome = join(work, 'home-unknown');
    mkdirSync(join(emptyHome, '.ssh'), { recursive: true });
    const found = await problems(labSite(), { ...baseEnv(), HOME: emptyHome });
    expect(found).toEqual([expect.stringMatching(new RegExp(`^node pve \\(127\\.0\\.0\\.1:${sshd.port}, from stages\\.lab\\.proxmox\\.sshNodes\\): its host key is not in ${emptyHome}/\\.ssh/known_hosts`))]);
    expect(() => readFileSync(join(emptyHome, '.ssh', 'known_hosts'), 'utf8')).toThrow(); // nothing was written
  });

  it('no agent: one line; an agent whose keys the node refuses: one line', async () => {
    const { SSH_AUTH_SOCK: _drop, ...noAgent } = baseEnv();
    expect(await problems(labSite(), noAgent)).toEqual([expect.stringMatching(/^SSH_AUTH_SOCK is not set: the provider logs in to node pve as root with the keys of your ssh-agent/)]);
    await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${''} -C other -f ${join(work, 'other')}`;
    const other = await startAgent(join(work, 'agent-other'), join(work, 'other'));
    try {
      // The authorized key sits in ~/.ssh as a default key file: the provider would not use it, nor does doctor.
      const keyHome = join(work, 'home-keyfile');
      mkdirSync(join(keyHome, '.ssh'), { recursive: true });
      writeFileSync(join(keyHome, '.ssh', 'known_hosts'), readFileSync(join(home, '.ssh', 'known_hosts')));
      writeFileSync(join(keyHome, '.ssh', 'id_ed25519'), readFileSync(join(work, 'operator')), { mode: 0o600 });
      const found = await problems(labSite(), { ...baseEnv(), HOME: keyHome, SSH_AUTH_SOCK: other.sock });
      expect(found).toEqual([expect.stringMatching(/^node pve \(127\.0\.0\.1:\d+, from stages\.lab\.proxmox\.sshNodes\): root refused every key of your ssh-agent/)]);
    } finally {
      await other.stop();
    }
  });

  it('a port where no SSH listens: one line', async () => {
    const port = await freePort();
    const found = await problems(labSite((lab) => (lab.proxmox.sshNodes = [{ name: 'pve', address: '127.0.0.1', port }])));
    expect(found).toEqual([expect.stringMatching(new RegExp(`^node pve \\(127\\.0\\.0\\.1:${port}, from stages\\.lab\\.proxmox\\.sshNodes\\): SSH does not answer \\(.*Connection refused.*\\)`))]);
  });

  it('finds the node\'s address as the provider does: sshNodes, else its first interface with a gateway', async () => {
    const site = labSite((lab) => (lab.proxmox.sshNodes = []));
    const ctx = new DoctorContext(site, site.stages.lab, { env: baseEnv(), insecure: false });
    ctx.api = proxmoxApi({ endpoint: api.endpoint, token: `${TOKEN_ID}=${SECRET}`, ca: api.ca.pem });
    ctx.ready = true;
    expect(await nodeSshTarget(ctx)).toEqual({ address: '127.0.0.1', port: 22, from: 'the node\'s network (API)' });
    ctx.ready = false;
    expect(await nodeSshTarget(ctx)).toEqual({ address: 'pve', port: 22, from: 'DNS (the node\'s name)' });
  });

  it('a user who is not root needs passwordless sudo for pvesm, qm and tee into the snippets', () => {
    const site = labSite((lab) => (lab.proxmox.sshUser = 'terraform'));
    const ctx = new DoctorContext(site, site.stages.lab, { env: baseEnv(), insecure: false });
    expect(sudoProblems(ctx, 'homeprod-doctor\nroot\n', '/var/lib/vz')).toEqual([]);
    expect(sudoProblems(ctx, 'homeprod-doctor\nsudo:pvesm\nsudo:qm\nsudo:tee\n', '/var/lib/vz')).toEqual([]);
    expect(sudoProblems(ctx, 'homeprod-doctor\nsudo:pvesm\n', '/var/lib/vz')).toEqual([
      'node pve: terraform may not run "sudo qm" without a password (the provider imports disks with it): add "terraform ALL=(root) NOPASSWD: /usr/sbin/qm" to /etc/sudoers.d/terraform on node pve',
      'node pve: terraform may not run "sudo tee" into /var/lib/vz/snippets (the provider uploads snippets with it): add "terraform ALL=(root) NOPASSWD: /usr/bin/tee /var/lib/vz/*" to /etc/sudoers.d/terraform on node pve',
    ]);
  });
});

describe('the README tells the truth about what doctor checks', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('its role holds exactly the privileges doctor asks for', () => {
    const site = labSite();
    const asked = [...new Set(privilegeNeeds(site, site.stages.lab).flatMap((n) => n.privileges))].sort();
    const role = /pveum role add Homeprod --privs "([^"]+)"/.exec(readme)?.[1]?.split(' ').sort();
    expect(role).toEqual(asked);
    expect(asked).toEqual([...ALL_PRIVILEGES].sort());
  });

  it('its mirror recipe names the pinned provider version', () => {
    expect(readme).toContain(`proxmox = { source = "${PROXMOX_PROVIDER.source}", version = "${PROXMOX_PROVIDER.version}" }`);
  });
});

describe('the provider\'s environment (proxmoxPlatform.terraformEnv)', () => {
  it('gives the endpoint and the CA to trust; skips verification only with --insecure; never the token', () => {
    const lab = labSite().stages.lab;
    expect(proxmoxPlatform.terraformEnv(lab, { insecure: false })).toEqual({ PROXMOX_VE_ENDPOINT: api.endpoint, SSL_CERT_FILE: api.caFile });
    expect(proxmoxPlatform.terraformEnv(lab, { insecure: true })).toEqual({ PROXMOX_VE_ENDPOINT: api.endpoint, PROXMOX_VE_INSECURE: 'true' });
    expect(proxmoxPlatform.terraformEnv({ ...lab, proxmox: { ...lab.proxmox, caCert: undefined, insecure: true } }, { insecure: false })).toEqual({ PROXMOX_VE_ENDPOINT: api.endpoint });
  });
});

