// A TLS load generator: each request is a new TCP connection with a full TLS handshake (no
// session resumption: no session is ever offered back), one small HTTPS GET and close, so the
// rate is handshakes per second. Bounded both by a count of connections and by time.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface LoadTarget {
  host: string;
  port: number;
  /** SNI and Host header. */
  servername: string;
  /** PEM of the CA to trust. */
  ca: string;
  localAddress?: string;
  /** Bytes sent before the ClientHello (a PROXY protocol header for a stage proxy). */
  preamble?: Buffer;
  /** A response must contain this to count as a success. */
  expect: string;
}

export interface LoadOptions {
  concurrency: number;
  maxRequests: number;
  maxMs: number;
  /** Per request. */
  timeoutMs?: number;
}

export interface LoadResult {
  ok: number;
  failed: number;
  elapsedMs: number;
  /** Milliseconds from connect to the end of the answer, of the successful requests. */
  latencies: number[];
  firstError?: string;
}

/** One connection: TCP, optional preamble, TLS handshake, GET, answer; resolves its latency. */
export function oneRequest(target: LoadTarget, timeoutMs = 5000): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: target.host, port: target.port, localAddress: target.localAddress });
    tcp.setNoDelay(true);
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tcp.destroy();
      reject(error);
    };
    tcp.on('error', fail);
    tcp.once('connect', () => {
      if (target.preamble) tcp.write(target.preamble);
      const tls = tlsConnect({ socket: tcp, servername: target.servername, ca: target.ca, minVersion: 'TLSv1.3' });
      let answer = '';
      tls.setEncoding('utf8');
      tls.on('error', fail);
      tls.once('secureConnect', () => tls.write(`GET / HTTP/1.1\r\nHost: ${target.servername}\r\nConnection: close\r\n\r\n`));
      tls.on('data', (chunk: string) => (answer += chunk));
      tls.on('end', () => {
        if (settled) return;
        if (!answer.startsWith('HTTP/1.1 200') || !answer.includes(target.expect)) return fail(new Error(`unexpected answer: ${JSON.stringify(answer.slice(0, 120))}`));
        settled = true;
        clearTimeout(timer);
        tcp.destroy();
        resolve(performance.now() - start);
      });
    });
  });
}

/** `concurrency` connections in flight until maxRequests were started or maxMs passed. */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: 0, elapsedMs: 0, latencies: [] };
  const start = performance.now();
  const deadline = start + options.maxMs;
  let started = 0;
  const worker = async () => {
    while (started < options.maxRequests && performance.now() < deadline) {
      started++;
      await measure(result, target, options.timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  result.elapsedMs = performance.now() - start;
  result.latencies.sort((a, b) => a - b);
  return result;
}

/** One request into `result`: its latency when it succeeds, else the failure. */
async function measure(result: LoadResult, target: LoadTarget, timeoutMs?: number): Promise<void> {
  try {
    result.latencies.push(await oneRequest(target, timeoutMs));
    result.ok++;
  } catch (error) {
    result.failed++;
    result.firstError ??= (error as Error).message;
  }
}

/**
 * One connection at a time, taking the targets in turn (A, B, C, A, B, C …), so each request
 * to one path has neighbours to the others at nearly the same moment: a busy machine's pauses
 * then fall on every path alike, and the paths' latencies compare fairly. Bounded by
 * `maxRequests` per target and by `maxMs`.
 */
export async function runInterleaved(targets: LoadTarget[], options: Omit<LoadOptions, 'concurrency'>): Promise<LoadResult[]> {
  const results: LoadResult[] = targets.map(() => ({ ok: 0, failed: 0, elapsedMs: 0, latencies: [] }));
  const start = performance.now();
  for (let i = 0; i < options.maxRequests && performance.now() - start < options.maxMs; i++) {
    for (const [index, target] of targets.entries()) {
      const result = results[index]!;
      const t = performance.now();
      await measure(result, target, options.timeoutMs);
      result.elapsedMs += performance.now() - t;
    }
  }
  for (const result of results) result.latencies.sort((a, b) => a - b);
  return results;
}
