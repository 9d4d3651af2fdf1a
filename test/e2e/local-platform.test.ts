// The local platform on real machines: debootstrap image, systemd-nspawn, network
// namespaces, sshd, the loopback forward — driven through the CLI Terraform calls
// (tasks/local.ts vm|disk create|destroy), checked over SSH and from the root namespace.
// Own prefix and state dir; afterAll cleans even when a test failed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localConfig, names } from '../../tasks/lib/platform/local/config';
import type { LocalDiskSpec, LocalVmSpec } from '../../tasks/lib/platform/local/spec';
import { sshCommand } from '../../tasks/lib/platform/local/ssh';
import { loadSite } from '../../tasks/lib/model';
import { hostByName, localDiskSpec, localVmSpec } from '../helpers/local-site';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PREFIX = `hpe${process.pid.toString(36).slice(-4)}`;
const stateDir = mkdtempSync(join(tmpdir(), 'homeprod-local-e2e-'));
// The state root too: clean removes the terraform state of what it removes, which must never be
// the project's own.
const env = { ...process.env, HOMEPROD_NS_PREFIX: PREFIX, HOMEPROD_STATE_DIR: stateDir, HOMEPROD_STATE_ROOT: stateDir };
const cfg = localConfig(env);

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

interface Run {
  code: number | null;
  out: string;
}

/** `npx tsx tasks/local.ts ...args` as Terraform's local-exec runs it. */
function local(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((ok) => {
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/local.ts', ...args], { cwd: ROOT, env: { ...env, ...extraEnv } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => ok({ code, out }));
  });
}

const vm = (verb: 'create' | 'destroy', spec: LocalVmSpec) => local(['vm', verb], { HOMEPROD_VM: JSON.stringify(spec) });
const disk = (verb: 'create' | 'destroy', spec: LocalDiskSpec) => local(['disk', verb], { HOMEPROD_DISK: JSON.stringify(spec) });

async function ok(run: Promise<Run>): Promise<string> {
  const r = await run;
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.out}`);
  return r.out;
}

const site = loadSite(join(ROOT, 'inventory', 'site.yaml'));
const byName = (name: string) => hostByName(site, name);
// Two lab machines (one with a data disk) and the prod passthrough (with the forward).
const labAnsible = byName('lab-ansible');
const labProxy = byName('lab-proxy');
const passthrough = byName('prod-proxy-passthrough');
let specs: LocalVmSpec[] = [];
let forward = { address: '127.0.0.1', httpPort: 0, httpsPort: 0 };

beforeAll(async () => {
  forward = { address: '127.0.0.1', httpPort: await freePort(), httpsPort: await freePort() };
  specs = [localVmSpec(site, labAnsible), localVmSpec(site, labProxy), localVmSpec(site, passthrough, forward)];
  await ok(disk('create', localDiskSpec(labAnsible)!));
  // In parallel, as Terraform would with several stacks: exercises the locks too.
  await Promise.all(specs.map((s) => ok(vm('create', s))));
}, 600_000);

afterAll(async () => {
  const r = await local(['clean', '--destroy-data']);
  if (r.code !== 0) console.error(r.out);
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe('local platform', () => {
  test('each machine answers over SSH with its own hostname and address', async () => {
    for (const s of specs) {
      const r = await sshCommand(s.name, 'hostname; ip -4 -o addr show dev eth0; cat /etc/machine-id', { cfg });
      expect(r.exitCode).toBe(0);
      const [hostname, addr] = r.stdout.split('\n');
      expect(hostname).toBe(s.name);
      expect(addr).toContain(`inet ${s.ipv4}/${s.prefixLength}`);
    }
  });

  test('create again is a no-op on a running machine', async () => {
    const out = await ok(vm('create', specs[1]!));
    expect(out).toContain('already running');
  });

  test('the root namespace has no address or route in a stage subnet', () => {
    const routes = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' }).stdout;
    const addrs = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
    for (const stage of Object.values(site.stages)) {
      const net = stage.network.base.split('.').slice(0, 3).join('.');
      expect(routes).not.toContain(`${net}.`);
      expect(addrs).not.toContain(`${net}.`);
    }
  });

  test('a lab machine reaches the prod machine across the router', async () => {
    const r = await sshCommand(labProxy.name, `nc -z -w 3 ${passthrough.ipv4} 22 && echo reached`, { cfg });
    expect(r.stdout.trim()).toBe('reached');
  });

  test('the lab reaches no outside address, and installs packages from its file: repository', async () => {
    const outside = await sshCommand(labProxy.name, 'nc -z -w 2 1.1.1.1 80 && echo reached || echo unreachable', { cfg });
    expect(outside.stdout.trim()).toBe('unreachable');
    const r = await sshCommand(labProxy.name, `apt-get -q update >/dev/null 2>&1; apt-get install -y -q jq >/dev/null 2>&1; echo '{"a": 42}' | jq .a`, { cfg, timeoutMs: 60_000 });
    expect(r.stdout.trim()).toBe('42');
  });

  test('the loopback forward reaches a port in the passthrough', async () => {
    const token = `forward-${Date.now()}`;
    const start = await sshCommand(passthrough.name, `mkdir -p /srv/www && echo ${token} > /srv/www/t.txt && systemd-run --unit=probe-http --working-directory=/srv/www python3 -m http.server 80`, { cfg });
    expect(start.exitCode).toBe(0);
    let body = '';
    for (let i = 0; i < 40 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${forward.httpPort}/t.txt`).then((r) => (r.ok ? r.text() : ''), () => '');
      if (body === '') await sleep(250);
    }
    expect(body.trim()).toBe(token);
  });

  test('a file on a data disk survives destroying and re-creating its machine', async () => {
    const mount = labAnsible.dataDisks[0]!.mountpoint;
    const token = `survivor-${Date.now()}`;
    const spec = specs[0]!;
    expect((await sshCommand(spec.name, `echo ${token} > ${mount}/survivor && touch /root/layer-only`, { cfg })).exitCode).toBe(0);
    await ok(vm('destroy', spec));
    expect((await sshCommand(spec.name, 'true', { cfg }).catch(() => ({ exitCode: 255 }))).exitCode).not.toBe(0);
    await ok(vm('create', spec));
    const r = await sshCommand(spec.name, `cat ${mount}/survivor; test -e /root/layer-only && echo layer-kept || echo layer-fresh`, { cfg });
    expect(r.stdout.trim().split('\n')).toEqual([token, 'layer-fresh']);
  });

  test('a create killed with SIGKILL mid-boot converges on the next create', async () => {
    const spec = specs[1]!;
    await ok(vm('destroy', spec));
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/local.ts', 'vm', 'create'], { cwd: ROOT, env: { ...env, HOMEPROD_VM: JSON.stringify(spec) }, detached: true, stdio: 'ignore' });
    // Kill right after nspawn started: the guest is booting, the create never finished.
    const pidFile = join(stateDir, 'vms', spec.name, 'nspawn.pid');
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
    expect(existsSync(pidFile)).toBe(true);
    process.kill(-child.pid!, 'SIGKILL');
    // nspawn forks its container child before that child execs init: for a moment two
    // processes carry nspawn's command line. Count only the outermost ones.
    const nspawns = () => {
      const pids = spawnSync('pgrep', ['-f', `network-namespace-path=/run/netns/${PREFIX}-vm-${spec.name}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      const parentOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1];
      return pids.filter((pid) => {
        try {
          return !pids.includes(parentOf(pid)!);
        } catch {
          return false; // gone meanwhile
        }
      });
    };
    expect(nspawns()).toHaveLength(1); // the orphan outlived its create
    await ok(vm('create', spec));
    const r = await sshCommand(spec.name, 'hostname', { cfg });
    expect(r.stdout.trim()).toBe(spec.name);
    expect(nspawns()).toHaveLength(1); // replaced, not doubled
  });

  test('clean leaves no namespace, process, mount, link or listening forward behind', async () => {
    await ok(local(['clean', '--destroy-data']));
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(netns.split('\n').filter((l) => l.startsWith(`${PREFIX}-`))).toEqual([]);
    const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((l) => l.includes(`/run/netns/${PREFIX}-`) || l.includes(`${PREFIX}-router`))).toEqual([]);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(`/run/netns/${PREFIX}-`);
    expect(mounts).not.toContain(stateDir);
    expect(readdirSync('/run/systemd/nspawn/propagate').filter((d) => d.startsWith(`${PREFIX}-`))).toEqual([]);
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    expect(links).not.toContain(`: ${names(cfg).tmpLinkPrefix}`);
    const listening = spawnSync('ss', ['-Hltn'], { encoding: 'utf8' }).stdout;
    expect(listening).not.toContain(`127.0.0.1:${forward.httpPort} `);
    expect(listening).not.toContain(`127.0.0.1:${forward.httpsPort} `);
    const again = await ok(local(['clean']));
    expect(again).toContain('nothing of prefix');
  });
});
