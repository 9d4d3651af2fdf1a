// Render + `nginx -t` of a site with 10,000 services (target < 5 s). Rendering is in-process;
// the three nginx checks (passthrough, both stage proxies) run side by side, as the hosts
// validate their own configs in parallel. nginx's cost is dominated by one OpenSSL context
// per TLS server block (OpenSSL 3), which grows with the number of services.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadSite } from '../tasks/lib/model/index';
import { readOutputsFile, render } from '../tasks/lib/render/index';
import { issueCertificate, makeCa, NGINX_PREFIX, scratchDir, shareCertificate, testRuntime, withServices } from '../test/helpers/render-nginx';

const SERVICES = 10_000;
const TARGET_MS = 5_000;

export async function run(print: (line: string) => void): Promise<void> {
  const dir = scratchDir('homeprod-bench-render-');
  try {
    const root = join(import.meta.dirname, '..');
    const site = withServices(loadSite(join(root, 'inventory', 'site.yaml')), SERVICES);
    const outputs = readOutputsFile(join(root, 'test', 'fixtures', 'outputs-local.json'));
    // One certificate for all: issuing 10,000 would measure openssl, not the render.
    const ca = makeCa(join(dir, 'ca'));
    const shared = issueCertificate(ca, join(dir, 'shared'), ['bench.pegasuspad.com']);
    for (const service of site.services) shareCertificate(shared, join(dir, 'tls'), service.hostnames[0] ?? service.name);

    const start = performance.now();
    const confs: string[] = [];
    for (const stage of ['lab', 'prod'] as const) {
      const out = join(dir, stage);
      const result = render(site, stage, outputs, { outDir: out, tlsDir: join(dir, 'tls'), runtime: (host) => testRuntime(join(dir, 'run', host)) });
      confs.push(...result.files.filter((f) => f.endsWith('/nginx.conf')).map((f) => join(out, f)));
    }
    const rendered = performance.now();
    print(`render  ${site.services.length} services, both stages             ${(rendered - start).toFixed(0).padStart(6)} ms`);
    const checks = await Promise.all(
      confs.map(async (conf) => {
        const t = performance.now();
        await promisify(execFile)('nginx', ['-t', '-q', '-p', NGINX_PREFIX, '-c', conf, '-e', 'stderr'], { maxBuffer: 1 << 20 });
        return { host: conf.split('/hosts/')[1]?.split('/')[0] ?? conf, ms: performance.now() - t };
      }),
    );
    for (const check of checks) print(`nginx -t  ${check.host.padEnd(36)} ${check.ms.toFixed(0).padStart(6)} ms`);
    const total = performance.now() - start;
    print(`total   render + nginx -t                       ${total.toFixed(0).padStart(6)} ms (target < ${TARGET_MS} ms: ${total < TARGET_MS ? 'met' : 'missed'})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
