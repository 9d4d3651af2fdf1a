// The whole job on the local platform, as a user runs it, and the faults it must survive:
// up from nothing, a broken site file, a new lab service promoted to prod, a stage proxy
// down, an unreachable control node, a run killed with SIGKILL during apply, and down.
// Every run's output and every generated file is searched for secrets at the end.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { $ } from 'zx';
import { cliSite, expectExit, ROOT, type Run } from '../helpers/cli-site';

const PREFIX = 'hpup';
const TOKEN = `homeprod-test-token-${process.pid}-do-not-leak`;
const site = cliSite({ prefix: PREFIX, httpPort: 18080, httpsPort: 18443, env: { PROXMOX_VE_API_TOKEN: TOKEN } });
const { state, siteFile, env, run, printed } = site;
const record = (kind: string, stage: string) => JSON.parse(readFileSync(join(state, 'runs', `${stage}-${kind}.json`), 'utf8')) as { hash: string; at: string };
const router = (...args: string[]) => $({ quiet: true })`ip netns exec ${`${PREFIX}-router`} ${args}`;
const ssh = (host: string, ...command: string[]) => run('local', 'ssh', host, '--', ...command);

function addService(doc: ReturnType<typeof parseDocument>, name: string): void {
  (doc.get('services') as { add(v: unknown): void }).add(doc.createNode({ name, stage: 'lab', hostnames: [`${name}.lab.pegasuspad.com`], upstream: { host: 'lab-whoami', port: 8080 } }));
}

/** Size and mtime of every file under a directory: what "nothing changed" compares. */
function fingerprint(dir: string, skip: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = join(e.parentPath, e.name);
    if (!e.isFile() || skip.test(file)) continue;
    const s = statSync(file);
    out[file] = `${s.size}:${s.mtimeMs}`;
  }
  return out;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

afterAll(() => site.cleanup(), 300_000);

describe('up on the local platform', () => {
  it('brings both stages up from nothing; every demo service answers through the loopback forward', async () => {
    const r = await run('up', '--yes', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+prod-proxy-passthrough → lab-proxy → lab-whoami:8080\s+ok/);
    expect(r.stdout).toMatch(/https:\/\/whoami\.pegasuspad\.com\/\s+prod\s+prod-proxy-passthrough → prod-proxy → prod-whoami:8080\s+ok/);
    expect(r.stdout).toContain('curl --resolve whoami.pegasuspad.com:18443:127.0.0.1');
    expect(record('verified', 'lab').hash).toBe(record('verified', 'prod').hash);
    // The curl command the summary prints works as printed.
    const curl = await $({ cwd: ROOT, nothrow: true, quiet: true })`curl -sS --resolve whoami.pegasuspad.com:18443:127.0.0.1 --cacert ${join(state, 'tls', 'prod-ca.pem')} https://whoami.pegasuspad.com:18443/`;
    expect(JSON.parse(curl.stdout)).toEqual({ service: 'whoami', host: 'prod-whoami', client: '10.111.1.1', peer: '10.111.1.11' });
  }, 1_200_000);

  it('a broken site file changes nothing anywhere', async () => {
    const broken = join(site.work, 'broken.yaml');
    const doc = parseDocument(readFileSync(siteFile, 'utf8'));
    doc.setIn(['hosts', 1, 'suffix'], 10); // prod-proxy on the passthrough's address
    writeFileSync(broken, doc.toString());
    // The machines' own layers change by themselves (their journals); everything else is ours.
    const ours = /run\.lock$|\/vms\/[^/]+\/(upper\/|nspawn\.log$)/;
    const before = fingerprint(state, ours);
    const r = await run('up', '--yes', '--site', broken);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+: hosts\[1\]\.suffix: duplicate IP 10\.111\.1\.10 \(also hosts\[0\] prod-proxy-passthrough\)/);
    expect(Object.keys(before).length).toBeGreaterThan(50);
    expect(fingerprint(state, ours)).toEqual(before);
  }, 120_000);

  it('adds a lab service with flags, brings it to lab while prod stays as it was, then promotes it', async () => {
    const add = await run('add-service', '--site', siteFile, '--name', 'notes', '--stage', 'lab', '--hostname', 'notes.lab.pegasuspad.com', '--upstream', 'lab-whoami', '--port', '8080', '--yes', '--no-up');
    expectExit(add, 0);
    const prodBefore = record('run', 'prod');

    const refused = await run('up', '--yes', '--stage', 'prod', '--site', siteFile);
    expectExit(refused, 4);
    expect(refused.stderr).toContain('refusing to promote to prod: this content did not verify in lab');
    // Refused before Terraform runs: prod is not even planned.
    expect(refused.stdout).not.toContain('prod stacks');

    const lab = await run('up', '--yes', '--stage', 'lab', '--site', siteFile);
    expectExit(lab, 0);
    // Two services on one backend port: each is answered as itself.
    expect(lab.stdout).toMatch(/https:\/\/notes\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
    expect(lab.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
    expect(record('run', 'prod')).toEqual(prodBefore);

    const prod = await run('up', '--yes', '--stage', 'prod', '--site', siteFile);
    expectExit(prod, 0);
    expect(prod.stdout).toContain('Promotion to prod: 0 services added, 0 changed, 0 removed; no hosts change; passthrough routes: 1 added (notes.lab.pegasuspad.com → lab), 0 removed (--yes)');
    // The gate follows prod's plans and their data-loss check, so its hosts are what Terraform does.
    expect(prod.stdout.indexOf('No data disk or data VM would be destroyed or replaced')).toBeGreaterThan(-1);
    expect(prod.stdout.indexOf('No data disk or data VM would be destroyed or replaced')).toBeLessThan(prod.stdout.indexOf('Promotion to prod:'));
    expect(record('verified', 'prod').hash).toBe(record('verified', 'lab').hash);
    expect(record('run', 'prod').at).not.toBe(prodBefore.at);
  }, 1_200_000);

  it('with the lab proxy down the passthrough keeps serving prod, and the next up repairs lab', async () => {
    expectExit(await ssh('lab-proxy', 'systemctl', 'stop', 'nginx'), 0);
    expectExit(await run('verify', '--stage', 'prod', '--site', siteFile), 0);
    expectExit(await run('verify', '--stage', 'lab', '--site', siteFile), 1);
    const r = await run('up', '--yes', '--verbose', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toContain('Configure the unchanged lab again: it failed verification');
    expect(r.stdout).toContain('prod is unchanged and its plan is empty: only verify');
  }, 600_000);

  it('a change configures only the plays it needs, in lab and then prod; drift elsewhere is found by verify and repaired by a full configure', async () => {
    const doc = parseDocument(readFileSync(siteFile, 'utf8'));
    const services = doc.get('services') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
    services.items.find((s) => s.get('name') === 'whoami-lab')!.set('maxBodySize', '20m');
    writeFileSync(siteFile, doc.toString());
    // The application's inputs do not change, so the selective run does not touch it.
    expectExit(await ssh('lab-whoami', 'systemctl', 'stop', 'homeprod-demo@8080.service'), 0);
    const r = await run('up', '--yes', '--verbose', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toContain("The change needs stage_proxy/nginx_release on lab-proxy; every other part's inputs are unchanged");
    // A lab service's body size is nothing to prod's hosts: the promotion plays nothing.
    expect(r.stdout).toContain('No prod play has anything new to do: every input is as the hosts were last configured with');
    expect(r.stdout).toContain('Configure every lab play again: it failed verification after configuring only what changed');
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
    expectExit(await ssh('lab-whoami', 'systemctl', 'is-active', 'homeprod-demo@8080.service'), 0);
  }, 600_000);

  it('a second up is a no-op that only verifies', async () => {
    const r = await run('up', '--yes', '--verbose', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toContain('lab is unchanged and its plan is empty: only verify');
    expect(r.stdout).toContain('prod is unchanged and its plan is empty: only verify');
    expect(r.stdout).not.toMatch(/: applied \(/);
    expect(r.stdout).not.toMatch(/✔ Ran the (lab|prod) playbooks/);
    expect(r.stdout).not.toContain('Configure the unchanged');
  }, 600_000);

  it('an unreachable control node stops up with a clear error, and the next run converges', async () => {
    const doc = parseDocument(readFileSync(siteFile, 'utf8'));
    addService(doc, 'wiki');
    writeFileSync(siteFile, doc.toString());
    const vmid = 5012; // lab-ansible: the router's port to it is vm<vmid>
    await router('ip', 'link', 'set', `vm${vmid}`, 'down');
    let r: Run;
    try {
      r = await run('up', '--yes', '--stage', 'lab', '--site', siteFile);
    } finally {
      await router('ip', 'link', 'set', `vm${vmid}`, 'up');
    }
    expectExit(r, 3);
    expect(r.stderr).toMatch(/^error: cannot reach the lab control node lab-ansible/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const again = await run('up', '--yes', '--stage', 'lab', '--site', siteFile);
    expectExit(again, 0);
    expect(again.stdout).toMatch(/https:\/\/wiki\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
  }, 900_000);

  it('a run killed with SIGKILL during apply is converged by the next', async () => {
    expectExit(await run('down', '--yes', '--stage', 'lab', '--site', siteFile), 0);
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/up.ts', '--yes', '--verbose', '--stage', 'lab', '--site', siteFile], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 300_000;
    // Terraform has started creating a VM: its machine is half made when the kill lands
    // (--verbose: without a terminal only step results are printed otherwise).
    const creating = /terraform_data\.vm_\w+: Creating\.\.\./;
    while (!creating.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(output).toMatch(creating);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    printed.push(output);
    const r = await run('up', '--yes', '--stage', 'lab', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
  }, 900_000);

  it('no secret reaches a log, a generated file or a Terraform output', async () => {
    const outputs = await $({ cwd: join(site.synthDir, 'stacks', 'lab-ansible-vm'), env: { ...env, CHECKPOINT_DISABLE: '1' }, nothrow: true, quiet: true })`terraform output -json`;
    printed.push(outputs.stdout);
    const secrets = [
      TOKEN,
      ...filesUnder(join(state, 'vault')).map((f) => readFileSync(f, 'utf8').trim()),
      // The body of every private key this run made (their first base64 line is unique).
      ...[...filesUnder(join(state, 'keys')), join(state, 'local', 'ssh', 'id_ed25519')]
        .filter((f) => !f.endsWith('.pub') && existsSync(f))
        .map((f) => readFileSync(f, 'utf8').split('\n')[1]!),
    ].filter((s) => s.length >= 16);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const generated = [
      ...filesUnder(join(state, 'rendered')),
      ...filesUnder(join(state, 'logs')),
      ...filesUnder(join(state, 'terraform')),
      ...filesUnder(join(state, 'runs')),
      ...filesUnder(site.synthDir),
    ];
    expect(generated.length).toBeGreaterThan(20);
    const texts = [...printed, ...generated.map((f) => readFileSync(f, 'utf8'))];
    for (const secret of secrets) expect(texts.filter((t) => t.includes(secret))).toEqual([]);
    expect(texts.filter((t) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t))).toEqual([]);
  }, 120_000);

  it('down removes the VMs and keeps the data disks', async () => {
    const r = await run('down', '--yes', '--site', siteFile);
    expectExit(r, 0);
    const status = await run('local', 'status');
    expect(status.stdout).not.toMatch(/running/);
    const disks = join(state, 'local', 'disks');
    expect(existsSync(disks) && readdirSync(disks).sort()).toEqual(['lab-ansible-data', 'lab-certbot-data', 'prod-ansible-data']);
  }, 600_000);
});
