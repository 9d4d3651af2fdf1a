// The routing test: the rendered passthrough and both stage proxies run as three real nginx
// instances on loopback addresses, with a tiny backend per service on its application host's
// (loopback) address. Real TLS clients, through tasks/lib/verify/, show that lab names go via
// the lab proxy and the rest via the prod proxy, each with its own certificate, that unknown
// names and clients without SNI reach no backend, and that backends see the client's address
// through the PROXY protocol. Loopback only: 127.0.85.0/24 on this machine's lo.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { loadSite } from '../../tasks/lib/model/index';
import type { Site } from '../../tasks/lib/model/types';
import { failureLines, verifyRouting, type VerifyResult } from '../../tasks/lib/verify';
import { GOLDEN_ROOT } from '../helpers/golden';
import { extraService, loopbackAddresses } from '../helpers/loopback-proxies';
import { loopbackProxiesForSuite } from '../helpers/loopback-proxies-suite';

const NET = '127.0.85';
const { hosts: ADDRESS, client: CLIENT } = loopbackAddresses(NET);
const HTTP_PORT = 28080;
const HTTPS_PORT = 28443;

const base = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));
// The Pegasus services plus more with two names each, so a proxy has to pick the right server
// block (and certificate) by name. Two lab services share the certificate lab-apps, with
// different body size limits: one certificate, two server blocks.
const site: Site = {
  ...base,
  services: [
    ...base.services,
    extraService(NET, 'notes-lab', 'lab', ['notes.lab.pegasuspad.com', 'wiki.lab.pegasuspad.com'], 8081, { certificate: 'lab-apps' }),
    extraService(NET, 'paste-lab', 'lab', ['paste.lab.pegasuspad.com'], 8082, { certificate: 'lab-apps', maxBodySize: '8m' }),
    extraService(NET, 'notes', 'prod', ['notes.pegasuspad.com', 'wiki.pegasuspad.com'], 8081, { websocket: true }),
  ],
};

const running = loopbackProxiesForSuite({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-routing-' });

const target = (stage: 'lab' | 'prod') => ({
  address: ADDRESS['prod-proxy-passthrough']!,
  port: HTTPS_PORT,
  services: site.services.filter((s) => s.stage === stage),
  ca: running().ca[stage].pem,
  expectedProxy: { [stage]: `${stage}-proxy` },
  expectedClient: CLIENT,
  localAddress: CLIENT,
  unknownNames: ['nobody.lab.pegasuspad.com', 'nobody.pegasuspad.com', 'pegasuspad.com', 'example.org'],
});

const summary = (results: VerifyResult[]) => results.map((r) => ({ kind: r.kind, hostname: r.hostname, ok: r.ok, proxy: r.proxy, backend: r.backendHost, certificate: r.certificate }));

describe('routing through the passthrough (three nginx on loopback)', () => {
  it('sends lab names via the lab proxy to their backends, with their services\' certificates', async () => {
    const results = await verifyRouting(target('lab'));
    expect(failureLines(results)).toEqual([]);
    expect(summary(results.filter((r) => r.kind === 'service'))).toEqual([
      { kind: 'service', hostname: 'whoami.lab.pegasuspad.com', ok: true, proxy: 'lab-proxy', backend: 'lab-whoami', certificate: 'whoami.lab.pegasuspad.com' },
      { kind: 'service', hostname: 'notes.lab.pegasuspad.com', ok: true, proxy: 'lab-proxy', backend: 'lab-whoami', certificate: 'notes.lab.pegasuspad.com' },
      { kind: 'service', hostname: 'wiki.lab.pegasuspad.com', ok: true, proxy: 'lab-proxy', backend: 'lab-whoami', certificate: 'notes.lab.pegasuspad.com' },
      { kind: 'service', hostname: 'paste.lab.pegasuspad.com', ok: true, proxy: 'lab-proxy', backend: 'lab-whoami', certificate: 'notes.lab.pegasuspad.com' },
    ]);
    const served = running().seen.filter((s) => s.headers.host === 'paste.lab.pegasuspad.com' || s.headers.host === 'wiki.lab.pegasuspad.com');
    expect(new Set(served.map((s) => `${s.headers.host} ${s.service}`))).toEqual(new Set(['paste.lab.pegasuspad.com paste-lab', 'wiki.lab.pegasuspad.com notes-lab']));
  });

  it('sends every other name via the prod proxy', async () => {
    const results = await verifyRouting(target('prod'));
    expect(failureLines(results)).toEqual([]);
    expect(summary(results.filter((r) => r.kind === 'service'))).toEqual([
      { kind: 'service', hostname: 'whoami.pegasuspad.com', ok: true, proxy: 'prod-proxy', backend: 'prod-whoami', certificate: 'whoami.pegasuspad.com' },
      { kind: 'service', hostname: 'notes.pegasuspad.com', ok: true, proxy: 'prod-proxy', backend: 'prod-whoami', certificate: 'notes.pegasuspad.com' },
      { kind: 'service', hostname: 'wiki.pegasuspad.com', ok: true, proxy: 'prod-proxy', backend: 'prod-whoami', certificate: 'notes.pegasuspad.com' },
    ]);
  });

  it('lets no unknown name and no client without SNI reach a backend', async () => {
    const { seen } = running();
    const before = seen.length;
    const results = await verifyRouting({ ...target('prod'), services: [] });
    expect(results.map((r) => [r.kind, r.hostname, r.ok])).toEqual([
      ['unknown-name', 'nobody.lab.pegasuspad.com', true],
      ['unknown-name', 'nobody.pegasuspad.com', true],
      ['unknown-name', 'pegasuspad.com', true],
      ['unknown-name', 'example.org', true],
      ['no-sni', '(no SNI)', true],
    ]);
    expect(seen.length).toBe(before);
  });

  it('hands the backend the client address from the PROXY protocol, not the passthrough\'s', async () => {
    const { seen } = running();
    const before = seen.length;
    await verifyRouting({ ...target('lab'), unknownNames: [] });
    const lab = seen.slice(before).filter((s) => s.service === 'whoami-lab');
    expect(lab.length).toBeGreaterThan(0);
    for (const request of lab) {
      expect(request.headers['x-real-ip']).toBe(CLIENT);
      expect(request.headers['x-forwarded-for']).toBe(CLIENT);
      expect(request.headers['x-forwarded-proto']).toBe('https');
      expect(request.headers.host).toBe('whoami.lab.pegasuspad.com');
      expect(request.headers['x-real-ip']).not.toBe(ADDRESS['prod-proxy-passthrough']);
    }
  });

  it('fails verification when it should: wrong CA, wrong proxy, wrong client', async () => {
    const wrongCa = await verifyRouting({ ...target('lab'), ca: running().ca.prod.pem, unknownNames: [] });
    expect(wrongCa.filter((r) => r.kind === 'service').every((r) => !r.ok && /not from the trusted CA/.test(r.problem ?? ''))).toBe(true);
    const wrongProxy = await verifyRouting({ ...target('lab'), expectedProxy: { lab: 'prod-proxy' }, unknownNames: [] });
    expect(wrongProxy[0]?.problem).toBe('answered via lab-proxy, expected prod-proxy');
    const wrongClient = await verifyRouting({ ...target('prod'), expectedClient: ADDRESS['prod-proxy-passthrough'], unknownNames: [] });
    expect(wrongClient[0]?.problem).toBe(`the backend saw client "${CLIENT}", expected ${ADDRESS['prod-proxy-passthrough']}`);
  });

  it('passes websocket upgrade headers to services that allow them, and only to those', async () => {
    const upgrade = (hostname: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: ADDRESS['prod-proxy-passthrough'], port: HTTPS_PORT, servername: hostname, ca: running().ca.prod.pem }, () => {
          socket.write(`GET /ws HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('}')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
        socket.setTimeout(5000, () => {
          socket.destroy();
          reject(new Error(`no answer from ${hostname}: ${text}`));
        });
      });
    const before = running().seen.length;
    await upgrade('notes.pegasuspad.com');
    await upgrade('whoami.pegasuspad.com');
    const headers = Object.fromEntries(running().seen.slice(before).map((s) => [s.service, { upgrade: s.headers.upgrade, connection: s.headers.connection }]));
    expect(headers).toEqual({ notes: { upgrade: 'websocket', connection: 'upgrade' }, whoami: { upgrade: undefined, connection: undefined } });
  });

  it('keeps each service\'s body size limit when services share a certificate', async () => {
    const { request } = await import('node:https');
    const post = (hostname: string, bytes: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: ADDRESS['prod-proxy-passthrough'], port: HTTPS_PORT, method: 'POST', path: '/', servername: hostname, headers: { Host: hostname }, ca: running().ca.lab.pem, agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(Buffer.alloc(bytes));
      });
    const twoMiB = 2 * 1024 * 1024;
    expect(await post('paste.lab.pegasuspad.com', twoMiB)).toBe(200);
    expect(await post('notes.lab.pegasuspad.com', twoMiB)).toBe(413);
  });

  it('refuses connections to a stage proxy that bypass the passthrough', async () => {
    // Without a PROXY protocol header the proxy closes the connection before any TLS.
    const answer = await new Promise<string>((resolve) => {
      const socket = netConnect({ host: ADDRESS['lab-proxy']!, port: HTTPS_PORT }, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (c) => (text += c.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toBe('');
  });

  it('splits plain HTTP the same way: redirects to HTTPS, ACME challenges of lab names to the certificate host', async () => {
    const get = (host: string, path: string) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: ADDRESS['prod-proxy-passthrough'], port: HTTP_PORT, path, headers: { Host: host }, localAddress: CLIENT, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const lab = await get('whoami.lab.pegasuspad.com', '/x?y=1');
    expect([lab.status, lab.headers.location]).toEqual([301, 'https://whoami.lab.pegasuspad.com/x?y=1']);
    const prod = await get('notes.pegasuspad.com', '/');
    expect([prod.status, prod.headers.location]).toEqual([301, 'https://notes.pegasuspad.com/']);
    const unknown = await get('nobody.pegasuspad.com', '/');
    expect(unknown.status).toBe(404);
    const acme = await get('new.lab.pegasuspad.com', '/.well-known/acme-challenge/token');
    expect(acme.status).toBe(200);
    expect(JSON.parse(acme.body)).toMatchObject({ service: 'acme-http-01', host: 'lab-certbot', client: CLIENT });
  });

  it('adds HSTS and names the proxy on every answer', async () => {
    const log = readFileSync(join(running().runDir('prod-proxy-passthrough'), 'logs', 'passthrough.log'), 'utf8');
    expect(log).toContain(`${CLIENT} `);
    expect(log).toMatch(/sni="whoami\.lab\.pegasuspad\.com" upstream=127\.0\.85\.3:28443/);
    const answer = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      import('node:https').then(({ request }) => {
        const req = request(
          { host: ADDRESS['prod-proxy-passthrough'], port: HTTPS_PORT, servername: 'whoami.pegasuspad.com', headers: { Host: 'whoami.pegasuspad.com' }, ca: running().ca.prod.pem, agent: false },
          (res) => {
            res.resume();
            resolve(res.headers);
          },
        );
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(answer['strict-transport-security']).toBe('max-age=63072000');
    expect(answer['x-homeprod-proxy']).toBe('prod-proxy');
  });
});
