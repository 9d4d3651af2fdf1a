import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { loadSite } from '../../tasks/lib/model';
import { verifyRouting } from '../../tasks/lib/verify';

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('verify with nothing listening', () => {
  it('fails every check, the refusal probes included', async () => {
    const site = loadSite('inventory/site.yaml');
    const results = await verifyRouting({
      address: '127.0.0.1',
      port: await closedPort(),
      services: site.services,
      expectedProxy: { lab: 'lab-proxy', prod: 'prod-proxy' },
      unknownNames: ['nobody.pegasuspad.com'],
    });
    expect(results.map((r) => r.kind)).toEqual(['service', 'service', 'unknown-name', 'no-sni']);
    for (const r of results) expect([r.hostname, r.ok, r.problem]).toEqual([r.hostname, false, 'connection refused: nothing listens at the connect address']);
  });
});
