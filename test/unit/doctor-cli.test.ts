// The CLIs a homelab owner runs against a cluster, with lab on an emulated Proxmox VE API
// (HTTPS on loopback, its CA trusted through proxmox.caCert) and a real sshd for the node:
// doctor reports; apply and up stop at their first step on bad input, before anything is
// synthesized or planned, with one line and exit 3. The token's secret is in no output and
// no file.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { osArch } from '../../tasks/lib/platform/proxmox/provider-check';
import { ed25519KeyPair, keyMaterial } from '../../tasks/lib/shared/host-keys';
import { cliSite, expectExit, type Run } from '../helpers/cli-site';
import { type EmulatedApi, readyCluster, startProxmoxApi } from '../helpers/proxmox-api';
import { freePort, startAgent, startSshd, type TestAgent, type TestSshd } from '../helpers/sshd';

const TOKEN_ID = 'terraform@pve!homeprod';
const SECRET = `cli-5ecre7-${process.pid}-never-printed`;
const IMAGE_URL = 'https://cloud.debian.org/images/cloud/bookworm/20250428-2096/debian-12-genericcloud-amd64-20250428-2096.qcow2';

let api: EmulatedApi;
let sshd: TestSshd;
let agent: TestAgent;
let site: ReturnType<typeof cliSite>;
const errorLines = (r: Run) => r.stderr.split('\n').filter((l) => l.startsWith('error: '));

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  // The emulator and the node's sshd live in this process; the CLIs run as children.
  const scratch = join(process.cwd(), `.state-e2e-hp13dr-fixtures-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  api = await startProxmoxApi(join(scratch, 'api'), readyCluster(TOKEN_ID, SECRET, IMAGE_URL));
  await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${''} -C operator -f ${join(scratch, 'operator')}`;
  agent = await startAgent(join(scratch, 'agent'), join(scratch, 'operator'));
  const hostKey = ed25519KeyPair('root@pve');
  sshd = await startSshd(join(scratch, 'sshd'), { address: '127.0.0.1', port: await freePort(), hostKey, authorizedKeys: [readFileSync(join(scratch, 'operator.pub'), 'utf8').trim()] });
  const home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${sshd.port} ${keyMaterial(hostKey.publicKey)}\n`);
  const mirror = join(scratch, 'mirror');
  const unpacked = join(mirror, 'registry.terraform.io', 'bpg', 'proxmox', '0.78.2', osArch());
  mkdirSync(unpacked, { recursive: true });
  writeFileSync(join(unpacked, 'terraform-provider-proxmox_v0.78.2'), ''); // the layout; the binary cannot run here
  site = cliSite({
    prefix: 'hp13dr',
    httpPort: 38080,
    httpsPort: 38443,
    env: { HOME: home, SSH_AUTH_SOCK: agent.sock, PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=${SECRET}`, HOMEPROD_TF_PLUGIN_DIR: mirror },
    edit: (doc) => {
      doc.setIn(['stages', 'lab', 'platform'], 'proxmox');
      doc.setIn(['stages', 'lab', 'proxmox', 'endpoint'], api.endpoint);
      doc.setIn(['stages', 'lab', 'proxmox', 'caCert'], api.caFile);
      doc.setIn(['stages', 'lab', 'proxmox', 'sshUser'], 'root');
      doc.setIn(['stages', 'lab', 'proxmox', 'sshNodes'], doc.createNode([{ name: 'pve', address: '127.0.0.1', port: sshd.port }]));
      doc.setIn(['images', 'debian-12', 'sha256'], 'a3c1f9e0b8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1');
    },
  });
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  await agent?.stop();
  await api?.close();
  // Nothing here booted a machine: remove the files, no local-platform clean is needed.
  rmSync(site.work, { recursive: true, force: true });
  rmSync(site.synthDir, { recursive: true, force: true });
  rmSync(join(process.cwd(), `.state-e2e-hp13dr-fixtures-${process.pid}`), { recursive: true, force: true });
});

describe('tasks/doctor.ts', () => {
  it('exits 0 when the cluster is ready, listing every check', async () => {
    const r = await site.run('doctor', '--site', site.siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^lab: https:\/\/127\.0\.0\.1:\d+\/ \(Proxmox VE 8\.2\.4\), node pve, platform proxmox$/m);
    expect(r.stdout).toContain('✔ the token\'s privileges for what the stacks create');
    expect(r.stdout).toContain('✔ SSH to the node for snippets and disk imports');
    expect(r.stdout).not.toMatch(/✖/);
  });

  it('a datastore that does not exist: exit 3, one line on stderr', async () => {
    const file = join(site.work, 'nosuch.yaml');
    writeFileSync(file, readFileSync(site.siteFile, 'utf8').replace(/(\n  lab:[\s\S]*?snippets: )local/, '$1nosuch'));
    const r = await site.run('doctor', '--site', file);
    expectExit(r, 3);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^lab: stages\.lab\.datastores\.snippets: "nosuch" is not a datastore the token sees on node pve/)]);
  });

});

describe('apply and up refuse bad input before anything is planned', () => {
  it('apply with a wrong token: exit 3, one line, nothing synthesized', async () => {
    api.requests.length = 0;
    const r = await $({ cwd: process.cwd(), env: { ...site.env, PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=wrong` }, nothrow: true, quiet: true })`npx --no-install tsx tasks/apply.ts --stage lab --yes --site ${site.siteFile}`;
    site.printed.push(r.stdout, r.stderr);
    expectExit({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }, 3);
    expect(errorLines({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })).toEqual([expect.stringMatching(/^error: PROXMOX_VE_API_TOKEN: https:\/\/127\.0\.0\.1:\d+\/ refused the token terraform@pve!homeprod \(401 invalid token value!\)/)]);
    expect(r.stderr).toContain('hint: nothing was applied');
    expect(r.stdout).not.toMatch(/Synthesized|Plan the lab stacks/);
    expect(existsSync(join(site.synthDir, 'stacks'))).toBe(false);
    expect(api.requests).toEqual(['GET /api2/json/version']);
  }, 60_000);

  it('up with a datastore without snippets: exit 3, one line, nothing synthesized', async () => {
    const local = api.cluster.storage.find((s) => s.storage === 'local')!;
    const before = local.content;
    local.content = 'iso,vztmpl,backup';
    try {
      const r = await site.run('up', '--stage', 'lab', '--yes', '--site', site.siteFile);
      expectExit(r, 3);
      expect(errorLines(r)).toEqual([expect.stringMatching(/^error: stages\.lab\.datastores\.snippets: "local" on node pve does not allow content "snippets"/)]);
      expect(r.stdout).not.toMatch(/Synthesized|Plan the lab stacks/);
      expect(existsSync(join(site.synthDir, 'stacks'))).toBe(false);
      expect(filesUnder(join(site.state, 'terraform')).filter((f) => f.endsWith('.tfstate'))).toEqual([]);
    } finally {
      local.content = before;
    }
  }, 60_000);

  it('an unreachable API: apply exits 3 with one line', async () => {
    const file = join(site.work, 'unreachable.yaml');
    writeFileSync(file, readFileSync(site.siteFile, 'utf8').replace(api.endpoint, `https://127.0.0.1:${await freePort()}/`));
    const r = await site.run('apply', '--stage', 'lab', '--yes', '--site', file);
    expectExit(r, 3);
    expect(errorLines(r)).toEqual([expect.stringMatching(/^error: stages\.lab\.proxmox\.endpoint: https:\/\/127\.0\.0\.1:\d+\/ does not answer .*ECONNREFUSED/)]);
    expect(existsSync(join(site.synthDir, 'stacks'))).toBe(false);
  }, 60_000);

  it('the token\'s secret is in no output and no file', () => {
    for (const text of site.printed) expect(text).not.toContain(SECRET);
    for (const file of [...filesUnder(site.work), ...filesUnder(site.synthDir)]) expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
  });
});
