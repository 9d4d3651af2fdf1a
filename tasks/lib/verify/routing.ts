// Verify: real TLS handshakes through the passthrough, one per service hostname, proving that
// each name reaches its own service's backend via its own stage's proxy with a certificate
// for that name, that the backend sees the client's address, and that a name the site does
// not serve, or a client without SNI, reaches no backend at all.
import { request } from 'node:https';
import { createConnection, isIP } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import type { Service, StageName } from '../model/types';
import { EXIT, HomeprodError } from '../ui/errors';

export interface VerifyTarget {
  /** Where clients connect: the passthrough, or what forwards to it (127.0.0.1:8443 locally). Must be an IP. */
  address: string;
  port: number;
  services: Service[];
  /** PEM certificates to trust; absent = the system's CAs. */
  ca?: string | string[];
  /** Proxy host(s) allowed to answer for each stage (the X-Homeprod-Proxy header). */
  expectedProxy: Partial<Record<StageName, string | string[]>>;
  /** The client address backends must report; absent = not checked. */
  expectedClient?: string;
  /** Names no service has: each must be refused before any backend sees it. */
  unknownNames: string[];
  /** Local address the clients connect from (loopback tests). */
  localAddress?: string;
  /** Per connection; default 5000 ms. */
  timeoutMs?: number;
  /** Connections at a time; default 8. */
  concurrency?: number;
}

export type ProbeKind = 'service' | 'unknown-name' | 'no-sni';

export interface VerifyResult {
  kind: ProbeKind;
  /** The service checked; null for the probes that must reach none. */
  service: string | null;
  /** The SNI name sent ("(no SNI)" for that probe). */
  hostname: string;
  ok: boolean;
  /** Why it failed, or for the refusal probes how the connection ended. */
  problem?: string;
  /** What answered, when something did. */
  proxy?: string;
  backendHost?: string;
  client?: string;
  certificate?: string;
  ms: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  certificate: PeerCertificate;
}

const MAX_BODY = 64 * 1024;

/** One HTTPS GET with SNI = Host = hostname, to the connect address, trusting only `ca`. */
function get(target: VerifyTarget, hostname: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.address,
        port: target.port,
        servername: hostname,
        path: '/',
        method: 'GET',
        headers: { Host: hostname, 'User-Agent': 'homeprod-verify' },
        ca: target.ca,
        localAddress: target.localAddress,
        agent: false,
        timeout: target.timeoutMs ?? 5000,
        minVersion: 'TLSv1.2',
      },
      (res) => {
        const certificate = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > MAX_BODY) req.destroy(new Error(`answer longer than ${MAX_BODY} bytes`));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, certificate }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${target.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const allowed = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

async function checkHostname(target: VerifyTarget, service: Service, hostname: string): Promise<VerifyResult> {
  const start = performance.now();
  const result: VerifyResult = { kind: 'service', service: service.name, hostname, ok: false, ms: 0 };
  const problems: string[] = [];
  try {
    const answer = await get(target, hostname);
    result.certificate = [answer.certificate.subject?.CN ?? []].flat().join(',');
    const proxy = answer.headers['x-homeprod-proxy'];
    result.proxy = Array.isArray(proxy) ? proxy.join(',') : proxy;
    const proxies = allowed(target.expectedProxy[service.stage]);
    if (!result.proxy) problems.push('no X-Homeprod-Proxy header: the answer did not come through a stage proxy');
    else if (!proxies.includes(result.proxy)) problems.push(`answered via ${result.proxy}, expected ${proxies.join(' or ') || `no proxy for stage ${service.stage}`}`);
    if (answer.status !== 200) problems.push(`HTTP ${answer.status}`);
    const json = parseAnswer(answer.body);
    if (!json) problems.push(`the answer is not the backend's JSON: ${JSON.stringify(answer.body.slice(0, 80))}`);
    else {
      if (typeof json.host === 'string') result.backendHost = json.host;
      if (typeof json.client === 'string') result.client = json.client;
      if (json.service !== service.name) problems.push(`answered by service ${JSON.stringify(json.service)}, expected "${service.name}"`);
      if (service.upstream.host && json.host !== service.upstream.host) problems.push(`answered by host ${JSON.stringify(json.host)}, expected "${service.upstream.host}"`);
      if (target.expectedClient !== undefined && json.client !== target.expectedClient) {
        problems.push(`the backend saw client ${JSON.stringify(json.client)}, expected ${target.expectedClient}`);
      }
    }
  } catch (error) {
    problems.push(describeError(error));
  }
  result.ok = problems.length === 0;
  if (!result.ok) result.problem = problems.join('; ');
  result.ms = Math.round(performance.now() - start);
  return result;
}

/** The backend's JSON ({service, host, client, peer}), or null when the answer is not JSON. */
function parseAnswer(body: string): { service?: unknown; host?: unknown; client?: unknown } | null {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as { service?: unknown; host?: unknown; client?: unknown }) : null;
  } catch {
    return null;
  }
}

function describeError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { reason?: string };
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate does not cover the name (${e.reason ?? e.message})`;
  if (e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || e.code === 'SELF_SIGNED_CERT_IN_CHAIN' || e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return `the certificate is not from the trusted CA (${e.code})`;
  }
  if (e.code === 'ECONNREFUSED') return 'connection refused: nothing listens at the connect address';
  if (e.code === 'ECONNRESET') return 'the connection was reset during the handshake';
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

/**
 * Connects without trusting anything and reports whether a TLS session came up: for names
 * no service has, and for a client that sends no name, the stage proxy must refuse the
 * handshake, so no backend can ever be reached.
 */
function probeRefused(target: VerifyTarget, kind: 'unknown-name' | 'no-sni', servername: string | undefined): Promise<VerifyResult> {
  const start = performance.now();
  const hostname = servername ?? '(no SNI)';
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, problem: string, proxy?: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      tcp.destroy();
      resolve({ kind, service: null, hostname, ok, problem, proxy, ms: Math.round(performance.now() - start) });
    };
    const tcp = createConnection({ host: target.address, port: target.port, localAddress: target.localAddress, timeout: target.timeoutMs ?? 5000 });
    tcp.on('timeout', () => done(true, 'no TLS session (timed out)'));
    // An IP host sends no SNI by itself; a name is only sent when given.
    const socket = connect({ socket: tcp, ...(servername ? { servername } : {}), rejectUnauthorized: false });
    socket.on('secureConnect', () => {
      // A session came up: ask for a page to name what answered.
      socket.write(`GET / HTTP/1.1\r\nHost: ${servername ?? target.address}\r\nConnection: close\r\n\r\n`);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => {
        const proxy = /^x-homeprod-proxy:\s*(\S+)/im.exec(text)?.[1];
        done(false, `a TLS session was established${proxy ? ` and ${proxy} answered` : ''}: ${text.split('\r\n')[0] ?? ''}`, proxy);
      });
    });
    // Nothing listening proves nothing about the proxies: only a refused handshake counts.
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNREFUSED' ? done(false, describeError(error)) : done(true, `refused: ${error.code ?? error.message}`),
    );
    socket.on('close', () => done(true, 'refused: connection closed'));
  });
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

/** One result per service hostname, then one per unknown name, then the client without SNI. */
export async function verifyRouting(target: VerifyTarget): Promise<VerifyResult[]> {
  if (!isIP(target.address)) throw new HomeprodError(`verify: connect address must be an IP address, not "${target.address}" (a name would be sent as SNI)`, EXIT.usage);
  const checks = target.services.flatMap((service) => service.hostnames.map((hostname) => ({ service, hostname })));
  const concurrency = target.concurrency ?? 8;
  const results = await inBatches(checks, concurrency, ({ service, hostname }) => checkHostname(target, service, hostname));
  results.push(...(await inBatches(target.unknownNames, concurrency, (name) => probeRefused(target, 'unknown-name', name))));
  results.push(await probeRefused(target, 'no-sni', undefined));
  return results;
}
