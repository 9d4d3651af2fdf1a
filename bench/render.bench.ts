// Render + `nginx -t` of a site with 10,000 services (target < 5 s), then routing through three
// nginx on loopback for a sample of the names. The site shares certificates as a site of that
// size must (50 services, 100 names, per certificate: the ACME limit; Let's Encrypt would take
// years to issue 10,000 certificates). nginx loads a certificate once per TLS server block,
// ~1 ms with OpenSSL 3.0, so the same site with one certificate per service is measured too,
// for comparison. Loopback only: 127.0.90.0/24.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadSite } from '../tasks/lib/model/index';
import type { Site } from '../tasks/lib/model/types';
import { failureLines } from '../tasks/lib/verify';
import { scratchDir } from '../test/helpers/render-nginx';
import { renderAndCheck, routeSample, SERVICES_PER_CERTIFICATE, withServices } from '../test/helpers/scale';

const SERVICES = 10_000;
const TARGET_MS = 5_000;
const NET = '127.0.90';

async function measure(print: (line: string) => void, title: string, site: Site, target: boolean): Promise<void> {
  const dir = scratchDir('homeprod-bench-render-');
  try {
    const run = await renderAndCheck(site, dir);
    print(title);
    print(`  render   ${site.services.length} services, both stages          ${run.renderMs.toFixed(0).padStart(6)} ms`);
    for (const check of run.checks) print(`  nginx -t ${check.host.padEnd(36)} ${check.ms.toFixed(0).padStart(6)} ms${check.ok ? '' : `  FAILED: ${check.problems.join(' ')}`}`);
    const verdict = target ? ` (target < ${TARGET_MS} ms: ${run.totalMs < TARGET_MS ? 'met' : 'missed'})` : '';
    print(`  total    render + nginx -t                    ${run.totalMs.toFixed(0).padStart(6)} ms${verdict}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkRouting(print: (line: string) => void, site: Site): Promise<void> {
  const routed = await routeSample(site, NET, { http: 29180, https: 29543 });
  const results = routed.flatMap((r) => r.results.filter((x) => x.kind === 'service'));
  const failures = routed.flatMap((r) => failureLines(r.results));
  print(`  routing  ${results.filter((r) => r.ok).length} of ${results.length} sampled names reached their own service via their stage proxy`);
  for (const line of failures) print(`  FAILED   ${line}`);
}

export async function run(print: (line: string) => void): Promise<void> {
  const base = loadSite(join(import.meta.dirname, '..', 'inventory', 'site.yaml'));
  const shared = withServices(base, SERVICES, SERVICES_PER_CERTIFICATE);
  await measure(print, `${SERVICES} services, ${SERVICES_PER_CERTIFICATE} per certificate`, shared, true);
  await checkRouting(print, shared);
  await measure(print, `${SERVICES} services, one certificate each (for comparison)`, withServices(base, SERVICES), false);
}
