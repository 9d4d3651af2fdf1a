// What a client may not make the stage proxies do, with the rendered passthrough and both
// stage proxies as real nginx on loopback (test/helpers/loopback-proxies.ts): a request whose
// Host is not a name of the certificate its TLS handshake chose gets 421, never another
// service; a service's own proxy_set_header lines never cost the shared request headers; and
// a PROXY protocol header counts only from prod's passthrough, the site's one entry point.
// Loopback only: 127.0.91.0/24 on this machine's lo.
import { describe, expect, it } from '@jest/globals';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { proxyV2Header } from '../../bench/lib/proxy-protocol';
import { loadSite } from '../../tasks/lib/model/index';
import type { Host, Site } from '../../tasks/lib/model/types';
import { GOLDEN_ROOT } from '../helpers/golden';
import { extraService, loopbackAddresses } from '../helpers/loopback-proxies';
import { loopbackProxiesForSuite } from '../helpers/loopback-proxies-suite';

const NET = '127.0.91';
const { hosts: ADDRESS, client: CLIENT } = loopbackAddresses(NET);
const HTTP_PORT = 31080;
const HTTPS_PORT = 31443;
/** A lab host that claims the passthrough role: lab is where experiments run, so prod must not trust it. */
const LAB_PASSTHROUGH = `${NET}.11`;
const SPOOFED = '203.0.113.7';

const base = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));
const labCertbot = base.hosts.find((h) => h.name === 'lab-certbot')!;
const labPassthrough: Host = { ...labCertbot, name: 'lab-passthrough', roles: ['passthrough'], ipv4: LAB_PASSTHROUGH, dataDisks: [], dataVmName: null, dataVmid: null };
const site: Site = {
  ...base,
  hosts: [...base.hosts, labPassthrough],
  services: [
    ...base.services,
    // Two names on one certificate, so a Host of the same certificate is still served.
    extraService(NET, 'notes', 'prod', ['notes.pegasuspad.com', 'wiki.pegasuspad.com'], 8081),
    { ...extraService(NET, 'custom', 'prod', ['custom.pegasuspad.com'], 8082), extraLocationLines: ['proxy_set_header X-Custom 1;'] },
    // nginx reads a quoted directive name as the directive itself.
    { ...extraService(NET, 'quoted', 'prod', ['quoted.pegasuspad.com'], 8083), extraLocationLines: ['"proxy_set_header" X-Quoted 1;'] },
  ],
};

const running = loopbackProxiesForSuite({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-boundaries-' });

interface Answer {
  status: number;
  body: string;
}

/** One HTTP/1.0 GET over TLS with this server name and Host, on `socket` (default: from the client through the passthrough). */
function get(servername: string, host: string, socket: Socket = netConnect({ host: ADDRESS['prod-proxy-passthrough'], port: HTTPS_PORT, localAddress: CLIENT })): Promise<Answer> {
  const stage = servername.toLowerCase().endsWith(`.${site.labDomain}`) ? 'lab' : 'prod';
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca: running().ca[stage].pem }, () => {
      tls.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    });
    let text = '';
    tls.setEncoding('utf8');
    tls.on('data', (chunk: string) => (text += chunk));
    tls.on('end', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.\d (\d+)/.exec(head)?.[1] ?? 0), body });
    });
    tls.on('error', reject);
    tls.setTimeout(5000, () => tls.destroy(new Error(`no answer for ${servername} / ${host}: ${text}`)));
  });
}

/** Which backend served a request with this Host (by the header the proxy passed on). */
const seenFor = (host: string, from: number) => running().seen.slice(from).filter((s) => s.headers.host === host);

describe('misdirected requests', () => {
  it('answers 421 when the Host belongs to another certificate than the handshake\'s server name', async () => {
    const before = running().seen.length;
    expect((await get('whoami.pegasuspad.com', 'notes.pegasuspad.com')).status).toBe(421);
    expect((await get('notes.pegasuspad.com', 'whoami.pegasuspad.com')).status).toBe(421);
    // Lab's certificate, a prod name: the lab proxy serves no such name.
    expect((await get('whoami.lab.pegasuspad.com', 'whoami.pegasuspad.com')).status).toBe(421);
    expect(running().seen.length).toBe(before);
  });

  it('answers 421 for a Host no service has, never a default page', async () => {
    const before = running().seen.length;
    for (const host of ['nobody.pegasuspad.com', 'localhost', ADDRESS['prod-proxy']!]) {
      const answer = await get('whoami.pegasuspad.com', host);
      expect({ host, status: answer.status, welcome: /Welcome to nginx/i.test(answer.body) }).toEqual({ host, status: 421, welcome: false });
    }
    expect((await get('whoami.lab.pegasuspad.com', 'nobody.lab.pegasuspad.com')).status).toBe(421);
    expect(running().seen.length).toBe(before);
  });

  it('still serves every name of the handshake\'s certificate, whatever its case', async () => {
    const before = running().seen.length;
    expect((await get('notes.pegasuspad.com', 'wiki.pegasuspad.com')).status).toBe(200);
    expect((await get('Whoami.PegasusPad.com', 'whoami.pegasuspad.com')).status).toBe(200);
    expect((await get('whoami.pegasuspad.com', 'WHOAMI.pegasuspad.com')).status).toBe(200);
    expect(seenFor('wiki.pegasuspad.com', before).map((s) => s.service)).toEqual(['notes']);
  });
});

describe('shared request headers', () => {
  it.each([
    ['custom.pegasuspad.com', 'x-custom'],
    ['quoted.pegasuspad.com', 'x-quoted'],
  ])('reach the upstream of %s beside its own %s', async (hostname, own) => {
    const before = running().seen.length;
    expect((await get(hostname, hostname)).status).toBe(200);
    const [request] = seenFor(hostname, before);
    expect(request?.headers).toMatchObject({ host: hostname, 'x-real-ip': CLIENT, 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'https', [own]: '1' });
  });
});

describe('client addresses', () => {
  /** A GET to the prod proxy straight from `from`, with a PROXY header that claims SPOOFED; the client address the backend saw. */
  const spoofFrom = (from: string) =>
    new Promise<string>((resolve, reject) => {
      const proxy = ADDRESS['prod-proxy']!;
      const socket = netConnect({ host: proxy, port: HTTPS_PORT, localAddress: from }, () => {
        socket.write(proxyV2Header({ address: SPOOFED, port: 40000 }, { address: proxy, port: HTTPS_PORT }));
        get('whoami.pegasuspad.com', 'whoami.pegasuspad.com', socket).then((answer) => resolve(JSON.parse(answer.body).client), reject);
      });
      socket.on('error', reject);
    });

  it('takes the PROXY protocol\'s client address only from prod\'s passthrough', async () => {
    expect(await spoofFrom(CLIENT)).toBe(CLIENT);
    expect(await spoofFrom(LAB_PASSTHROUGH)).toBe(LAB_PASSTHROUGH);
    // The test can fail: from the passthrough's own address the header is believed.
    expect(await spoofFrom(ADDRESS['prod-proxy-passthrough']!)).toBe(SPOOFED);
  });
});
