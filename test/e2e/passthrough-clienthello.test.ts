// ClientHellos of every size a TLS client may send, up to 64 KB spread over several TLS records
// with the server name after ~64 KB of other extensions (post-quantum key shares, many
// extensions), reach the stage proxy that serves their name through the rendered passthrough.
// The passthrough and both stage proxies run as real nginx on loopback (loopback-proxies.ts),
// both stages with TLS 1.2 allowed: the hand-built hello offers only TLS 1.2, so the proxy's
// Certificate message comes back in clear and names who answered. Loopback only:
// 127.0.92.0/24 on this machine's lo.
import { describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSite } from '../../tasks/lib/model/index';
import type { Site, StageName } from '../../tasks/lib/model/types';
import { GOLDEN_ROOT } from '../helpers/golden';
import { loopbackProxiesForSuite } from '../helpers/loopback-proxies-suite';
import { clientHello12, inRecords, MAX_RECORD_PAYLOAD, sendHelloReadCertificate, type ServerAnswer } from '../helpers/tls12-hello';

const NET = '127.0.92';
const HTTP_PORT = 32080;
const HTTPS_PORT = 32443;
const NAME: Record<StageName, string> = { lab: 'whoami.lab.pegasuspad.com', prod: 'whoami.pegasuspad.com' };
/** The largest ClientHello the passthrough promises to route: one 64 KiB handshake message. */
const LARGEST = 65536;
/** TLS alert unrecognized_name, which a stage proxy's default server answers with. */
const UNRECOGNIZED_NAME = 112;

const base = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));
const site: Site = {
  ...base,
  stages: {
    lab: { ...base.stages.lab, tls: { ...base.stages.lab.tls, allowTls12: true } },
    prod: { ...base.stages.prod, tls: { ...base.stages.prod.tls, allowTls12: true } },
  },
};

const running = loopbackProxiesForSuite({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-clienthello-' });

function connected(): Promise<Socket> {
  const { hosts, client } = running();
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: hosts['prod-proxy-passthrough'], port: HTTPS_PORT, localAddress: client });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function answerTo(records: Buffer[]): Promise<ServerAnswer> {
  return sendHelloReadCertificate(await connected(), records);
}

/** What a test compares: the leaf's names and whether the stage's CA issued it, or how the connection ended. */
function seen(answer: ServerAnswer): { names?: string; issuedBy?: StageName | 'other'; alert?: number; closedAfter?: number } {
  if (answer.kind === 'alert') return { alert: answer.description };
  if (answer.kind === 'closed') return { closedAfter: answer.received };
  const { ca } = running();
  const issuedBy = (['lab', 'prod'] as const).find((stage) => answer.leaf.checkIssued(new X509Certificate(ca[stage].pem))) ?? 'other';
  return { names: answer.leaf.subjectAltName, issuedBy };
}

const passthroughLog = () => readFileSync(join(running().runDir('prod-proxy-passthrough'), 'logs', 'passthrough.log'), 'utf8');

/** The passthrough logs a connection when it ends, just after the client closed it: waits up to 5 s for the line. */
async function loggedSince(offset: number, line: string): Promise<string> {
  let text = '';
  for (let attempt = 0; attempt < 50 && !text.includes(line); attempt++) {
    if (attempt > 0) await sleep(100);
    text = passthroughLog().slice(offset);
  }
  return text;
}

describe('ClientHellos of every size through the passthrough (real nginx on loopback)', () => {
  it.each(['lab', 'prod'] as const)('routes a small one-record %s hello by its name', async (stage) => {
    const records = inRecords(clientHello12(NAME[stage]));
    expect(records).toHaveLength(1);
    expect(seen(await answerTo(records))).toEqual({ names: `DNS:${NAME[stage]}`, issuedBy: stage });
  });

  it.each([
    ['lab', MAX_RECORD_PAYLOAD],
    ['prod', MAX_RECORD_PAYLOAD],
    ['lab', 1000],
  ] as const)('routes a 64 KiB %s hello in records of %i bytes, its name after the rest, by its name', async (stage, payload) => {
    const hello = clientHello12(NAME[stage], LARGEST);
    const records = inRecords(hello, payload);
    // One handshake message, larger than a record can carry, the name at its very end.
    expect(hello.length).toBe(LARGEST);
    expect(records.length).toBe(Math.ceil(LARGEST / payload));
    expect(hello.subarray(-NAME[stage].length).toString('ascii')).toBe(NAME[stage]);
    const logBefore = passthroughLog().length;

    expect(seen(await answerTo(records))).toEqual({ names: `DNS:${NAME[stage]}`, issuedBy: stage });
    const line = `sni="${NAME[stage]}" upstream=${running().hosts[`${stage}-proxy`]}:${HTTPS_PORT}`;
    expect(await loggedSince(logBefore, line)).toContain(line);
  }, 30_000);

  it('sends a 64 KiB hello with a name no stage serves to the prod proxy, which refuses it', async () => {
    const name = 'nobody.pegasuspad.com';
    const logBefore = passthroughLog().length;
    expect(seen(await answerTo(inRecords(clientHello12(name, LARGEST))))).toEqual({ alert: UNRECOGNIZED_NAME });
    const line = `sni="${name}" upstream=${running().hosts['prod-proxy']}:${HTTPS_PORT}`;
    expect(await loggedSince(logBefore, line)).toContain(line);
  }, 30_000);
});
