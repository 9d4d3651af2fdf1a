// Faults at the SNI passthrough, against the rendered configs running as real nginx on
// loopback (127.0.87.0/24): a large ClientHello arriving in many small TCP segments is still
// routed by its name; a client without SNI takes the default route and is refused there; a
// connection that sends nothing (or half a ClientHello) is closed after the preread timeout;
// and a bounded flood of such idle connections does not keep others from being served.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { loadSite } from '../../tasks/lib/model/index';
import { GOLDEN_ROOT } from '../helpers/golden';
import { startLoopbackProxies, type LoopbackProxies } from '../helpers/loopback-proxies';

const NET = '127.0.87';
const HTTP_PORT = 30080;
const HTTPS_PORT = 30443;
const LAB_NAME = 'whoami.lab.pegasuspad.com';
const PROD_NAME = 'whoami.pegasuspad.com';
// Idle connections: a small flood, and one beyond what a worker could hold with systemd's
// default soft limit of 1024 open files (each of the two workers would run out).
const FLOODS = [200, 2500];
/** As nginx.service runs under systemd when the unit sets no LimitNOFILE. */
const SYSTEMD_OPEN_FILES = 1024;

const site = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));

let proxies: LoopbackProxies | undefined;
const running = (): LoopbackProxies => {
  if (!proxies) throw new Error('the proxies did not start');
  return proxies;
};
const passthrough = () => running().hosts['prod-proxy-passthrough']!;
const passthroughLog = () => readFileSync(join(running().runDir('prod-proxy-passthrough'), 'logs', 'passthrough.log'), 'utf8');
/** The preread timeout the rendered passthrough uses, so the test follows the template. */
const prereadSeconds = () => {
  const conf = readFileSync(join(running().dir, 'prod', 'hosts', 'prod-proxy-passthrough', 'nginx', 'homeprod', 'stream', 'passthrough.conf'), 'utf8');
  const match = /^\s*preread_timeout (\d+)s;/m.exec(conf);
  if (!match) throw new Error('no preread_timeout in the rendered passthrough');
  return Number(match[1]);
};

beforeAll(async () => {
  proxies = await startLoopbackProxies({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-faults-', openFiles: SYSTEMD_OPEN_FILES });
}, 120_000);

afterAll(async () => {
  await proxies?.stop();
}, 30_000);

/**
 * A socket for the TLS client that writes its first `splitBytes` bytes to TCP in `piece`-byte
 * pieces, `delayMs` apart, with Nagle off: each piece leaves as its own segment, so the
 * passthrough has to wait for the rest of the ClientHello before it can read the name.
 */
class SplittingSocket extends Duplex {
  readonly pieces: Buffer[] = [];
  first: Buffer | null = null;
  private budget: number;

  constructor(
    private readonly tcp: Socket,
    private readonly piece: number,
    private readonly delayMs: number,
    splitBytes: number,
  ) {
    super();
    this.budget = splitBytes;
    tcp.setNoDelay(true);
    tcp.on('data', (data: Buffer) => {
      if (!this.push(data)) tcp.pause();
    });
    tcp.on('end', () => this.push(null));
    tcp.on('error', (error) => this.destroy(error));
  }

  override _read(): void {
    this.tcp.resume();
  }

  override _write(data: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.first ??= Buffer.from(data);
    if (this.budget <= 0) {
      this.tcp.write(data, done);
      return;
    }
    this.budget -= data.length;
    void (async () => {
      for (let at = 0; at < data.length; at += this.piece) {
        const piece = data.subarray(at, at + this.piece);
        this.pieces.push(Buffer.from(piece));
        this.tcp.write(piece);
        await sleep(this.delayMs);
      }
      done();
    })().catch(done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.tcp.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.tcp.destroy();
    done(error);
  }
}

interface Answer {
  status: string;
  headers: string;
  body: string;
}

/** One GET over TLS on options.socket (default: a new connection to the passthrough from the client address); the raw answer. */
function getOver(options: ConnectionOptions & { servername: string }, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = options.socket ?? netConnect({ host: passthrough(), port: HTTPS_PORT, localAddress: running().client });
    const tls = tlsConnect({ ...options, socket });
    const timer = setTimeout(() => tls.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let text = '';
    tls.setEncoding('utf8');
    tls.once('secureConnect', () => tls.write(`GET / HTTP/1.1\r\nHost: ${options.servername}\r\nConnection: close\r\n\r\n`));
    tls.on('data', (chunk: string) => (text += chunk));
    tls.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    tls.on('end', () => {
      clearTimeout(timer);
      tls.destroy();
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: head.split('\r\n')[0] ?? '', headers: head, body });
    });
  });
}

/** The ALPN list that pads the ClientHello: a post-quantum (X25519MLKEM768) hello is ~1.8 kB. */
const paddingProtocols = Array.from({ length: 9 }, (_, i) => `x-homeprod-padding-${i}-${'p'.repeat(200)}`);

/** A raw connection to the passthrough that sends `send` and then nothing; resolves when closed. */
function idleConnection(send: Buffer | null): Promise<{ socket: Socket; closed: Promise<{ afterMs: number; received: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: passthrough(), port: HTTPS_PORT, localAddress: running().client });
    socket.once('error', reject);
    socket.once('connect', () => {
      const start = performance.now();
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.on('error', () => undefined);
      if (send) socket.write(send);
      const closed = new Promise<{ afterMs: number; received: number }>((done) => socket.once('close', () => done({ afterMs: performance.now() - start, received })));
      resolve({ socket, closed });
    });
  });
}

/** The promise's value, or 'still open' when it takes longer than ms (the timer never outlives the test). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | 'still open'> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, 'still open' as const, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

describe('the passthrough under faults (real nginx on loopback)', () => {
  it('routes a ClientHello of post-quantum size, split into many small TCP segments, by its name', async () => {
    const tcp = netConnect({ host: passthrough(), port: HTTPS_PORT, localAddress: running().client });
    await new Promise<void>((resolve, reject) => {
      tcp.once('connect', () => resolve());
      tcp.once('error', reject);
    });
    const split = new SplittingSocket(tcp, 100, 15, 4096);
    const answer = await getOver({ socket: split, servername: LAB_NAME, ca: running().ca.lab.pem, ALPNProtocols: [...paddingProtocols, 'http/1.1'] });

    // The hello really is one large handshake record, and left in pieces.
    const hello = split.first!;
    expect(hello[0]).toBe(0x16);
    expect(hello.readUInt16BE(3)).toBeGreaterThan(1500);
    expect(split.pieces.length).toBeGreaterThanOrEqual(15);
    expect(Math.max(...split.pieces.map((p) => p.length))).toBeLessThanOrEqual(100);

    expect(answer.status).toBe('HTTP/1.1 200 OK');
    expect(answer.headers).toMatch(/^x-homeprod-proxy: lab-proxy$/im);
    expect(JSON.parse(answer.body)).toMatchObject({ service: 'whoami-lab', host: 'lab-whoami', client: running().client });
    expect(passthroughLog()).toContain(`sni="${LAB_NAME}" upstream=${running().hosts['lab-proxy']}:${HTTPS_PORT}`);
  }, 30_000);

  it('sends a client without SNI to the default route, the prod proxy, which refuses the handshake', async () => {
    const before = running().seen.length;
    const logBefore = passthroughLog().length;
    // An IP address as host sends no SNI.
    const error = await getOver({ servername: '', ca: running().ca.prod.pem }).then(
      (answer) => new Error(`a session came up: ${answer.status}`),
      (e: NodeJS.ErrnoException) => e,
    );
    // The prod proxy's default server (ssl_reject_handshake on) answers with the fatal
    // unrecognized_name alert (112): no certificate is ever sent.
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    await sleep(200);
    const line = passthroughLog().slice(logBefore);
    expect(line).toContain(`sni="" upstream=${running().hosts['prod-proxy']}:${HTTPS_PORT}`);
    expect(running().seen.length).toBe(before);
  }, 30_000);

  it('closes a connection that sends no ClientHello, or only part of one, after the preread timeout', async () => {
    const timeoutMs = prereadSeconds() * 1000;
    const logBefore = passthroughLog().length;
    const silent = await idleConnection(null);
    // A TLS record header announcing a 512-byte handshake, and then nothing more.
    const partial = await idleConnection(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const results = await within(timeoutMs + 5000, Promise.all([silent.closed, partial.closed]));
    silent.socket.destroy();
    partial.socket.destroy();
    expect(results).not.toBe('still open');
    for (const { afterMs, received } of results as Array<{ afterMs: number; received: number }>) {
      expect(afterMs).toBeGreaterThan(timeoutMs - 300);
      expect(afterMs).toBeLessThan(timeoutMs + 3000);
      expect(received).toBe(0);
    }
    // The passthrough closed them itself, without ever opening a connection to a stage proxy.
    await sleep(200);
    const client = running().client.replaceAll('.', '\\.');
    const lines = passthroughLog().slice(logBefore).split('\n').filter((l) => new RegExp(`^${client} `).test(l));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/ upstream=- status=\d+ bytes=0\/0 time=\d+\.\d+$/);
      expect(Number(/time=([\d.]+)$/.exec(line)?.[1])).toBeGreaterThanOrEqual(prereadSeconds() - 0.3);
    }
  }, 60_000);

  it.each(FLOODS)('keeps serving while %i idle connections wait for their timeout', async (size) => {
    const timeoutMs = prereadSeconds() * 1000;
    const before = running().seen.length;
    const flood = await Promise.all(Array.from({ length: size }, (_, i) => idleConnection(i % 2 === 0 ? null : Buffer.from([0x16, 0x03, 0x01]))));
    try {
      // While every idle connection is still held, real clients of both stages get answers.
      const started = performance.now();
      const requests = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? { name: LAB_NAME, ca: running().ca.lab.pem, proxy: 'lab-proxy' } : { name: PROD_NAME, ca: running().ca.prod.pem, proxy: 'prod-proxy' },
      );
      const answers = await Promise.all(requests.map((r) => getOver({ servername: r.name, ca: r.ca }, 5000)));
      const tookMs = performance.now() - started;
      answers.forEach((answer, i) => {
        expect(answer.status).toBe('HTTP/1.1 200 OK');
        expect(answer.headers.toLowerCase()).toContain(`x-homeprod-proxy: ${requests[i]!.proxy}`);
      });
      expect(running().seen.length - before).toBe(requests.length);
      // Served during the flood, not after the passthrough dropped it.
      expect(tookMs).toBeLessThan(timeoutMs - 500);

      // And the flood itself ends on the preread timeout.
      const closed = await within(timeoutMs + 5000, Promise.all(flood.map((f) => f.closed)));
      expect(closed).not.toBe('still open');
    } finally {
      for (const f of flood) f.socket.destroy();
    }
  }, 60_000);
});
