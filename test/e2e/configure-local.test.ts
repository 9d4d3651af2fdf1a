// Configure on the local platform, for real: the Pegasus lab stage applied by Terraform as
// nspawn machines, then configured from its control node (lab-ansible) with the roles in
// ansible/. A second run changes nothing; a rendered nginx config that nginx rejects is
// refused on the host and the stage proxy keeps serving the old one. Own namespace prefix
// and state root; afterAll cleans even when a test failed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ConfigureContext, configureSteps } from '../../tasks/lib/configure';
import { applySteps, type ApplyContext } from '../../tasks/lib/apply';
import { synthesizer } from '../../tasks/lib/synth';
import { HomeprodError } from '../../tasks/lib/ui/errors';
import { runSteps } from '../../tasks/lib/ui/listr';
import { localConfig } from '../../tasks/lib/platform/local/config';
import { sshCommand } from '../../tasks/lib/platform/local/ssh';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { outputsFromModel, render } from '../../tasks/lib/render/index';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PREFIX = `hpc${process.pid.toString(36).slice(-4)}`;
const stateRoot = mkdtempSync(join(tmpdir(), 'homeprod-configure-local-'));
const outdir = join(ROOT, `cdktf.out.e2e-${PREFIX}`);
const testEnv = {
  HOMEPROD_NS_PREFIX: PREFIX,
  HOMEPROD_STATE_DIR: join(stateRoot, 'local'),
  HOMEPROD_STATE_ROOT: stateRoot,
};
const saved = Object.fromEntries(Object.keys(testEnv).map((k) => [k, process.env[k]]));
const cfg = localConfig({ ...process.env, ...testEnv });
const site = loadSite(join(ROOT, 'inventory', 'site.yaml'));
const service = site.services.find((s) => s.stage === 'lab')!;
const hostname = service.hostnames[0]!;
const proxy = site.hosts.find((h) => h.stage === 'lab' && h.roles.includes('stage-proxy'))!;
const renderDir = join(stateRoot, 'render', 'lab');

function local(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/local.ts', ...args], { cwd: ROOT, env: { ...process.env, ...testEnv } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ code, out }));
  });
}

const configure = (dir = renderDir, opts: { full?: boolean; site?: Site } = {}) =>
  runSteps<ConfigureContext>(configureSteps({ stage: 'lab', site: opts.site ?? site, renderDir: dir, full: opts.full }), {}, { silent: true });

/**
 * An HTTPS request to the lab proxy from the control node, with a PROXY protocol header as
 * the passthrough sends it, trusting the stage CA the run created there.
 */
async function askProxy(): Promise<{ body: Record<string, string>; proxyHeader: string }> {
  const r = await sshCommand(
    'lab-ansible',
    `curl -sS --max-time 10 --haproxy-protocol --cacert /var/lib/ansible/ca/ca.crt -D /tmp/headers --resolve ${hostname}:443:${proxy.ipv4} https://${hostname}/ && grep -i '^x-homeprod-proxy' /tmp/headers`,
    { cfg, timeoutMs: 30_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const [json, header] = r.stdout.trim().split('\n');
  return { body: JSON.parse(json!) as Record<string, string>, proxyHeader: header!.split(':')[1]!.trim() };
}

/** The tasks (and handlers) of an ansible-playbook log that did something on some host: ok, changed or failed, not skipped. */
function tasksRun(log: string): string[] {
  return [...log.matchAll(/^(?:TASK|RUNNING HANDLER) \[(.+?)\] \**\n((?:(?!TASK|RUNNING HANDLER|PLAY).*\n)*)/gm)]
    .filter(([, , lines]) => /^(ok|changed|failed|fatal):/m.test(lines!))
    .map(([, task]) => task!);
}

const liveRelease = async () => (await sshCommand(proxy.name, 'readlink /etc/homeprod/nginx/current', { cfg })).stdout.trim();

beforeAll(async () => {
  Object.assign(process.env, testEnv);
  await runSteps<ApplyContext>(
    applySteps({ stage: 'lab', site, yes: true, stateDir: stateRoot, synthesize: synthesizer({ outdir, tfStateDir: join(stateRoot, 'terraform') }) }),
    {},
    { silent: true },
  );
  render(site, 'lab', outputsFromModel(site), { outDir: renderDir });
}, 600_000);

afterAll(async () => {
  const r = await local(['clean', '--destroy-data']);
  if (r.code !== 0) console.error(r.out);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(outdir, { recursive: true, force: true });
  rmSync(stateRoot, { recursive: true, force: true });
}, 180_000);

describe('configure on the local platform', () => {
  test('configures every lab host from lab-ansible; the proxy serves the service with a CA certificate', async () => {
    const ctx = await configure();
    const result = ctx.configured!.lab!;
    expect(Object.keys(result.recap).sort()).toEqual(site.hosts.filter((h) => h.stage === 'lab').map((h) => h.name).sort());
    expect(Object.values(result.recap).every((c) => c.failed === 0 && c.unreachable === 0)).toBe(true);
    expect(result.changed).toBeGreaterThan(0);
    expect(readFileSync(result.caCert!, 'utf8')).toContain('BEGIN CERTIFICATE');

    const answer = await askProxy();
    expect(answer.body).toMatchObject({ service: service.name, host: service.upstream.host, peer: proxy.ipv4 });
    expect(answer.proxyHeader).toBe(proxy.name);

    // Secrets on the data disk and the proxy stay private; the vault password never reaches the log.
    const modes = await sshCommand('lab-ansible', 'stat -c %a /var/lib/ansible/keys/lab-control /var/lib/ansible/vault/lab.pass /var/lib/ansible/ca/ca.key', { cfg });
    expect(modes.stdout.trim().split('\n')).toEqual(['600', '600', '600']);
    const vaultPassword = readFileSync(join(stateRoot, 'vault', 'lab.pass'), 'utf8').trim();
    expect(readFileSync(result.logFile, 'utf8')).not.toContain(vaultPassword);
    expect(readFileSync(result.logFile, 'utf8')).not.toContain('PRIVATE KEY');
  }, 600_000);

  test('a second configure runs no play: every input is as the hosts got it', async () => {
    const result = (await configure()).configured!.lab!;
    expect(Object.values(result.selection.parts).flat()).toEqual([]);
    expect(Object.keys(result.selection.parts)).toContain('stage_proxy/nginx_release');
    expect(result.recap).toEqual({});
  }, 300_000);

  test('a second full configure reports zero changed tasks', async () => {
    const ctx = await configure(renderDir, { full: true });
    expect(Object.keys(ctx.configured!.lab!.recap).sort()).toEqual(site.hosts.filter((h) => h.stage === 'lab').map((h) => h.name).sort());
    const changed = Object.entries(ctx.configured!.lab!.recap).filter(([, c]) => c.changed > 0);
    expect(changed).toEqual([]);
  }, 300_000);

  test('a new service runs only the parts that read it, on the hosts it changes; a full run after it changes nothing', async () => {
    const added = { ...service, name: 'notes-lab', hostnames: ['notes.lab.pegasuspad.com'], certificate: 'notes.lab.pegasuspad.com' };
    const changedSite: Site = { ...site, services: [...site.services, added] };
    render(changedSite, 'lab', outputsFromModel(changedSite), { outDir: renderDir });
    const result = (await configure(renderDir, { site: changedSite })).configured!.lab!;
    // The new certificate on the issuer (and the certificate host, which reads the list), the
    // new route on the proxy, the new name on the application; no baseline, no control node.
    expect(result.selection).toMatchObject({
      full: false,
      parts: {
        common: [],
        control_node: [],
        'passthrough/sni_passthrough': [],
        'passthrough/nginx_release': [],
        certificates: ['lab-ansible', 'lab-certbot'],
        applications: ['lab-whoami'],
        'stage_proxy/stage_proxy': [],
        'stage_proxy/certificates': ['lab-proxy'],
        'stage_proxy/nginx_release': ['lab-proxy'],
      },
    });
    expect(Object.keys(result.recap).sort()).toEqual(['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami']);
    const served = await sshCommand('lab-ansible', `curl -sS --max-time 10 --haproxy-protocol --cacert /var/lib/ansible/ca/ca.crt --resolve notes.lab.pegasuspad.com:443:${proxy.ipv4} https://notes.lab.pegasuspad.com/`, { cfg, timeoutMs: 30_000 });
    expect(served.exitCode).toBe(0);
    expect(JSON.parse(served.stdout)).toMatchObject({ host: service.upstream.host });

    const full = (await configure(renderDir, { site: changedSite, full: true })).configured!.lab!;
    expect(Object.entries(full.recap).filter(([, c]) => c.changed > 0)).toEqual([]);
    // Back to the site as it was, for the tests after this one.
    render(site, 'lab', outputsFromModel(site), { outDir: renderDir });
    expect((await configure()).configured!.lab!.selection.full).toBe(false);
  }, 600_000);

  test('a changed service makes only the new nginx release live: staged, tested with nginx -t, reloaded, nothing else', async () => {
    const before = await liveRelease();
    // 12 MB: over the default 10m the proxy runs with, under the 23m it gets.
    const post = async () =>
      (await sshCommand('lab-ansible', `head -c 12000000 /dev/zero | curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --haproxy-protocol --cacert /var/lib/ansible/ca/ca.crt --resolve ${hostname}:443:${proxy.ipv4} --data-binary @- https://${hostname}/`, { cfg, timeoutMs: 60_000 })).stdout;
    expect(await post()).toBe('413');
    const changedSite: Site = { ...site, services: site.services.map((s) => (s.name === service.name ? { ...s, maxBodySize: '23m' } : s)) };
    render(changedSite, 'lab', outputsFromModel(changedSite), { outDir: renderDir });
    const result = (await configure(renderDir, { site: changedSite })).configured!.lab!;
    expect(Object.fromEntries(Object.entries(result.selection.parts).filter(([, hosts]) => hosts.length))).toEqual({ 'stage_proxy/nginx_release': [proxy.name] });
    expect(Object.keys(result.recap)).toEqual([proxy.name]);
    // Only the release's tasks did anything: no package, certificate or directory task, no handler.
    const ran = tasksRun(readFileSync(result.logFile, 'utf8'));
    expect(ran).toEqual(expect.arrayContaining(['nginx_release : Pack the rendered configuration on the control node', 'nginx_release : Stage the release, test it with nginx -t and make it live']));
    expect(ran.filter((task) => !task.startsWith('nginx_release : '))).toEqual([]);
    expect(result.recap[proxy.name]!.changed).toBe(1);
    expect(await liveRelease()).not.toBe(before);
    // Reloaded: the running nginx takes the body it refused before (the backend then refuses the method).
    expect(await post()).toBe('501');
    expect((await askProxy()).body).toMatchObject({ service: service.name });
    const releases = await sshCommand(proxy.name, 'ls -A /etc/homeprod/nginx/releases; readlink /etc/homeprod/nginx/previous', { cfg });
    expect(releases.stdout).not.toContain('.staging-');
    expect(releases.stdout).toContain(before);
    // Back to the site as it was, for the tests after this one.
    render(site, 'lab', outputsFromModel(site), { outDir: renderDir });
    await configure();
    expect(await liveRelease()).toBe(before);
  }, 600_000);

  test('a config nginx rejects is refused on the host, and the proxy keeps serving the old one', async () => {
    const before = await liveRelease();
    const broken = join(stateRoot, 'render', 'lab-broken');
    cpSync(renderDir, broken, { recursive: true });
    writeFileSync(join(broken, 'hosts', proxy.name, 'nginx', 'homeprod', 'http', 'zz-broken.conf'), 'server { listen 80; bogus_directive on; }\n');

    const error = await configure(broken).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(HomeprodError);
    const details = (error as HomeprodError).details.join('\n');
    expect(details).toContain(`${proxy.name}: nginx rejected the rendered configuration`);
    expect(details).toContain('bogus_directive');

    expect(await liveRelease()).toBe(before);
    const answer = await askProxy();
    expect(answer.body.service).toBe(service.name);
    const running = await sshCommand(proxy.name, 'systemctl is-active nginx', { cfg });
    expect(running.stdout.trim()).toBe('active');
  }, 300_000);
});
