// The rendered passthrough and both stage proxies as three real nginx instances on loopback
// addresses (<net>.2 passthrough, .3 lab proxy, .4 prod proxy), with a backend per service on
// its application host's loopback address, as the routing test, the fault tests and the
// passthrough benchmark need them. Each user picks its own /24 inside 127.0.0.0/8 and its own
// ports, so they can run beside each other. Everything started here is stopped by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { certificatesOf } from '../../tasks/lib/model/certificates';
import { STAGES, type HostOutput, type Service, type Site, type StageName } from '../../tasks/lib/model/types';
import { readOutputsFile, render } from '../../tasks/lib/render/index';
import { issueCertificate, makeCa, NGINX_PREFIX, testRuntime, type TestCa } from './render-nginx';

/** Last octet of each host's loopback address; the client connects from .9. */
const SUFFIX: Record<string, number> = {
  'prod-proxy-passthrough': 2,
  'lab-proxy': 3,
  'prod-proxy': 4,
  'lab-whoami': 5,
  'prod-whoami': 6,
  'lab-certbot': 7,
  'lab-ansible': 8,
  'prod-ansible': 10,
};

export function loopbackAddresses(net: string): { hosts: Record<string, string>; client: string } {
  return { hosts: Object.fromEntries(Object.entries(SUFFIX).map(([name, n]) => [name, `${net}.${n}`])), client: `${net}.9` };
}

/** The local outputs fixture with every host moved onto `net`. */
export function loopbackOutputs(net: string): HostOutput[] {
  const { hosts } = loopbackAddresses(net);
  return readOutputsFile(join(import.meta.dirname, '..', 'fixtures', 'outputs-local.json')).map((h) => ({ ...h, ipv4: hosts[h.name] ?? h.ipv4 }));
}

export interface Seen {
  service: string;
  headers: IncomingHttpHeaders;
  peer: string;
}

/** A backend as the contract defines it: JSON {service, host, client (X-Real-IP), peer}. */
export function startBackend(host: string, service: string, address: string, port: number, seen?: Seen[], counter?: { requests: number }): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const peer = req.socket.remoteAddress ?? '';
    seen?.push({ service, headers: req.headers, peer });
    if (counter) counter.requests++;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ service, host, client: req.headers['x-real-ip'] ?? '', peer }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

export async function waitForPort(address: string, port: number, proc: ChildProcess, stderr: () => string, what = 'nginx'): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}): ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: address, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${address}:${port}: ${stderr()}`);
}

/** Starts a foreground process and waits until it listens on address:port. */
export async function startListening(command: string, args: string[], address: string, port: number, procs: ChildProcess[]): Promise<ChildProcess> {
  const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(address, port, proc, () => stderr, command);
  return proc;
}

/**
 * nginx in the foreground. With `openFiles`, its soft limit of open files starts there, as under
 * systemd (1024 unless the unit says otherwise); nginx may raise it itself (worker_rlimit_nofile).
 */
export function startNginx(conf: string, address: string, port: number, procs: ChildProcess[], openFiles?: number): Promise<ChildProcess> {
  const args = ['-p', NGINX_PREFIX, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'];
  return openFiles === undefined ? startListening('nginx', args, address, port, procs) : startListening('prlimit', [`--nofile=${openFiles}:`, 'nginx', ...args], address, port, procs);
}

/** SIGTERM, then SIGKILL after 5 s; also for processes that already exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = new AbortController();
  const timedOut = await Promise.race([exited.then(() => false), sleep(5000, true, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  if (timedOut) {
    proc.kill('SIGKILL');
    await exited;
  }
}

export interface LoopbackProxiesOptions {
  site: Site;
  /** First three octets, e.g. "127.0.85". */
  net: string;
  httpPort: number;
  httpsPort: number;
  /** Temp dir prefix. */
  prefix: string;
  /** Record every backend request in `seen` (tests); benchmarks only count them. */
  record?: boolean;
  /** Start nginx with this soft limit of open files (systemd's default is 1024). */
  openFiles?: number;
  /** Start backends only for these services (by name); default every service. */
  backends?: string[];
}

export interface LoopbackProxies {
  dir: string;
  hosts: Record<string, string>;
  client: string;
  /** One CA per stage, as with tls mode local-ca. */
  ca: Record<StageName, TestCa>;
  seen: Seen[];
  counter: { requests: number };
  /** nginx (and anything else started through `procs`) of this run. */
  procs: ChildProcess[];
  conf: (stage: StageName, host: string) => string;
  runDir: (host: string) => string;
  stop: () => Promise<void>;
}

/**
 * Renders both stages for loopback and starts lab proxy, prod proxy and passthrough nginx plus
 * the backends. On a failure half way, what was started is stopped before the error is thrown.
 */
export async function startLoopbackProxies(options: LoopbackProxiesOptions): Promise<LoopbackProxies> {
  const { site, net, httpPort, httpsPort } = options;
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const { hosts, client } = loopbackAddresses(net);
  const procs: ChildProcess[] = [];
  const servers: Server[] = [];
  const seen: Seen[] = [];
  const counter = { requests: 0 };
  const runDir = (host: string) => join(dir, 'run', host);
  const stop = async () => {
    await Promise.all(procs.map(stopProcess));
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tlsDir = join(dir, 'tls');
    const ca = { lab: makeCa(join(dir, 'ca-lab')), prod: makeCa(join(dir, 'ca-prod')) };
    for (const stage of STAGES) for (const c of certificatesOf(site.services, stage)) issueCertificate(ca[stage], tlsDir, c.hostnames, c.name);
    const renderOptions = { tlsDir, listen: { bindAddress: true, httpPort, httpsPort }, runtime: (host: string) => testRuntime(runDir(host)) };
    const outputs = loopbackOutputs(net);
    for (const stage of ['prod', 'lab'] as const) render(site, stage, outputs, { ...renderOptions, outDir: join(dir, stage) });

    const record = options.record ?? true;
    const backend = (host: string, service: string, port: number) => startBackend(host, service, hosts[host]!, port, record ? seen : undefined, counter);
    // Each backend listens where the outputs put its application host, as the proxies expect.
    const withBackend = options.backends ? site.services.filter((s) => options.backends!.includes(s.name)) : site.services;
    for (const service of withBackend) servers.push(await backend(service.upstream.host!, service.name, service.upstream.port));
    // The lab certificate host answers ACME HTTP-01 challenges on port 80.
    servers.push(await backend('lab-certbot', 'acme-http-01', httpPort));

    const conf = (stage: StageName, host: string) => join(dir, stage, 'hosts', host, 'nginx', 'nginx.conf');
    await startNginx(conf('lab', 'lab-proxy'), hosts['lab-proxy']!, httpsPort, procs, options.openFiles);
    await startNginx(conf('prod', 'prod-proxy'), hosts['prod-proxy']!, httpsPort, procs, options.openFiles);
    await startNginx(conf('prod', 'prod-proxy-passthrough'), hosts['prod-proxy-passthrough']!, httpsPort, procs, options.openFiles);
    return { dir, hosts, client, ca, seen, counter, procs, conf, runDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A service on `stage`'s demo host, for sites that need more names than the Pegasus site has. */
export function extraService(
  net: string,
  name: string,
  stage: StageName,
  hostnames: string[],
  port: number,
  settings: Partial<Pick<Service, 'websocket' | 'maxBodySize' | 'certificate'>> = {},
): Service {
  const { hosts } = loopbackAddresses(net);
  return {
    name,
    stage,
    hostnames,
    upstream: { host: `${stage}-whoami`, address: hosts[`${stage}-whoami`]!, port },
    websocket: false,
    maxBodySize: '1m',
    extraLocationLines: [],
    certificate: hostnames[0]!,
    ...settings,
  };
}
