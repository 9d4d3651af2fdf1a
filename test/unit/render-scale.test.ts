// Ten thousand services: the passthrough's maps and the stage proxies' server names hash
// sizes come from the names, so nginx accepts the configs without hash warnings or errors.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadSite } from '../../tasks/lib/model/index';
import { readOutputsFile, render } from '../../tasks/lib/render/index';
import { GOLDEN_ROOT } from '../helpers/golden';
import { issueCertificate, makeCa, NGINX_PREFIX, scratchDir, shareCertificate, testRuntime, withServices } from '../helpers/render-nginx';

const SERVICES = 10_000;
const dir = scratchDir('homeprod-render-scale-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function nginxTest(conf: string): Promise<{ conf: string; ok: boolean; problems: string[] }> {
  try {
    const { stderr } = await promisify(execFile)('nginx', ['-t', '-p', NGINX_PREFIX, '-c', conf, '-e', 'stderr'], { maxBuffer: 1 << 22 });
    return { conf, ok: true, problems: stderr.split('\n').filter((l) => /\[(warn|emerg|alert|crit)\]/.test(l)) };
  } catch (error) {
    return { conf, ok: false, problems: [(error as { stderr?: string }).stderr ?? String(error)] };
  }
}

describe(`a site with ${SERVICES} services`, () => {
  it('renders configs that pass nginx -t without hash warnings', async () => {
    const site = withServices(loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml')), SERVICES);
    const outputs = readOutputsFile(join(import.meta.dirname, '..', 'fixtures', 'outputs-local.json'));
    // One real certificate behind every name's path: nginx loads each path, openssl issues once.
    const shared = issueCertificate(makeCa(join(dir, 'ca')), join(dir, 'shared'), ['bulk.pegasuspad.com']);
    for (const service of site.services) shareCertificate(shared, join(dir, 'tls'), service.hostnames[0]!);
    const confs: string[] = [];
    for (const stage of ['lab', 'prod'] as const) {
      const out = join(dir, stage);
      const result = render(site, stage, outputs, { outDir: out, tlsDir: join(dir, 'tls'), runtime: (host) => testRuntime(join(dir, 'run', host)) });
      confs.push(...result.files.filter((f) => f.endsWith('/nginx.conf')).map((f) => join(out, f)));
    }
    expect(confs).toHaveLength(3);
    const stream = readFileSync(join(dir, 'prod', 'hosts', 'prod-proxy-passthrough', 'nginx', 'homeprod', 'stream', 'passthrough.conf'), 'utf8');
    expect(stream.match(/ homeprod_(lab|prod)_tls;$/gm)).toHaveLength(2 * SERVICES + 2 + 2);
    const verdicts = await Promise.all(confs.map(nginxTest));
    expect(verdicts).toEqual(confs.map((conf) => ({ conf, ok: true, problems: [] })));
  }, 600_000);
});
