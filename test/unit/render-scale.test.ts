// Ten thousand services, in certificates of 50 services (100 names, the ACME limit): the
// passthrough's maps and the stage proxies' hash sizes come from the names, so nginx accepts the
// configs without hash warnings; and three real nginx on loopback still route a sample of the
// names to their own services. Loopback only: 127.0.89.0/24.
import { afterAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model/index';
import { failureLines } from '../../tasks/lib/verify';
import { GOLDEN_ROOT } from '../helpers/golden';
import { scratchDir } from '../helpers/render-nginx';
import { renderAndCheck, routeSample, SERVICES_PER_CERTIFICATE, withServices } from '../helpers/scale';

const SERVICES = 10_000;
const NET = '127.0.89';
const dir = scratchDir('homeprod-render-scale-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const site = withServices(loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml')), SERVICES, SERVICES_PER_CERTIFICATE);

describe(`a site with ${SERVICES} services`, () => {
  it('renders configs that pass nginx -t without hash warnings, with one TLS server block per certificate and settings', async () => {
    const run = await renderAndCheck(site, dir);
    expect(run.checks.map(({ host, ok, problems }) => ({ host, ok, problems })).sort((a, b) => a.host.localeCompare(b.host))).toEqual(
      ['lab-proxy', 'prod-proxy', 'prod-proxy-passthrough'].map((host) => ({ host, ok: true, problems: [] })),
    );
    const stream = readFileSync(join(dir, 'prod', 'hosts', 'prod-proxy-passthrough', 'nginx', 'homeprod', 'stream', 'passthrough.conf'), 'utf8');
    expect(stream.match(/ homeprod_(lab|prod)_tls;$/gm)).toHaveLength(2 * SERVICES + 2 + 2);
    // Per stage: 5,000 bulk services in 100 certificates, plus the Pegasus service's own; the
    // bulk services come in two settings (websocket or not), so two TLS blocks per certificate.
    const http = join(dir, 'lab', 'hosts', 'lab-proxy', 'nginx', 'homeprod', 'http');
    const certificates = readdirSync(http).filter((f) => f.startsWith('certificate-'));
    expect(certificates).toHaveLength(SERVICES / 2 / SERVICES_PER_CERTIFICATE + 1);
    const tlsBlocks = certificates.map((f) => readFileSync(join(http, f), 'utf8').match(/^\s+ssl_certificate /gm)?.length ?? 0);
    expect(tlsBlocks.reduce((a, b) => a + b, 0)).toBe(2 * (SERVICES / 2 / SERVICES_PER_CERTIFICATE) + 1);
  }, 600_000);

  it('routes a sample of the names through the passthrough to their own services', async () => {
    for (const { stage, services, results } of await routeSample(site, NET, { http: 29080, https: 29443 })) {
      expect(services.length).toBeGreaterThanOrEqual(10);
      expect(failureLines(results)).toEqual([]);
      expect(results.filter((r) => r.kind === 'service' && r.ok)).toHaveLength(services.flatMap((s) => s.hostnames).length);
      expect(results.filter((r) => r.kind === 'unknown-name' && r.ok).map((r) => r.hostname)).toEqual([`nobody.${stage === 'lab' ? site.labDomain : site.domain}`]);
    }
  }, 600_000);
});
