// Sites with thousands of services, for the render scale test and the render benchmark: the
// services themselves, rendering both stages with `nginx -t` of every config side by side (the
// hosts validate their own configs in parallel), and routing checked on a sample of them.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificatesOf } from '../../tasks/lib/model/certificates';
import { STAGES, type Service, type Site, type StageName } from '../../tasks/lib/model/types';
import { readOutputsFile, render } from '../../tasks/lib/render/index';
import { verifyRouting, type VerifyResult } from '../../tasks/lib/verify';
import { loopbackAddresses, startLoopbackProxies } from './loopback-proxies';
import { issueCertificate, makeCa, NGINX_PREFIX, shareCertificate, testRuntime } from './render-nginx';

/** Services per certificate when a site shares them: 100 names, the most an ACME certificate holds. */
export const SERVICES_PER_CERTIFICATE = 50;

/**
 * The site with `count` more services, alternating lab and prod, on the stages' application
 * hosts. With `servicesPerCertificate`, consecutive services of a stage share a certificate
 * (bulk-<stage>-<n>); otherwise each has its own.
 */
export function withServices(site: Site, count: number, servicesPerCertificate?: number): Site {
  const appHost = (stage: StageName) => site.hosts.find((h) => h.stage === stage && h.roles.includes('application'));
  const services: Service[] = [];
  for (let i = 0; i < count; i++) {
    const stage: StageName = i % 2 === 0 ? 'lab' : 'prod';
    const host = appHost(stage);
    if (!host?.ipv4) throw new Error(`withServices: stage ${stage} has no static application host`);
    const domain = stage === 'lab' ? site.labDomain : site.domain;
    const hostnames = [`bulk-${i}.${domain}`, `www.bulk-${i}.${domain}`];
    services.push({
      name: `bulk-${i}`,
      stage,
      hostnames,
      certificate: servicesPerCertificate ? `bulk-${stage}-${Math.floor(i / 2 / servicesPerCertificate)}` : hostnames[0]!,
      upstream: { host: host.name, address: host.ipv4, port: 10000 + (i % 50000) },
      websocket: i % 3 === 0,
      maxBodySize: '10m',
      extraLocationLines: [],
    });
  }
  return { ...site, services: [...site.services, ...services] };
}

/** Up to `perStage` services of each stage, spread over the site, to check routing on. */
function sampleServices(site: Site, perStage: number): Service[] {
  return STAGES.flatMap((stage) => {
    const services = site.services.filter((s) => s.stage === stage);
    const step = Math.max(1, Math.floor(services.length / perStage));
    return services.filter((_, i) => i % step === 0 || i === services.length - 1).slice(-perStage);
  });
}

export interface SampleRouting {
  stage: StageName;
  services: Service[];
  results: VerifyResult[];
}

/**
 * Starts the three nginx of `site` on loopback `net` with backends for a sample of its services
 * only, checks every sampled name (and one unknown name per stage) through the passthrough with
 * verify's own checks, and stops everything again.
 */
export async function routeSample(site: Site, net: string, ports: { http: number; https: number }, perStage = 10): Promise<SampleRouting[]> {
  const sample = sampleServices(site, perStage);
  const { hosts, client } = loopbackAddresses(net);
  const proxies = await startLoopbackProxies({ site, net, httpPort: ports.http, httpsPort: ports.https, prefix: 'homeprod-scale-routing-', backends: sample.map((s) => s.name) });
  try {
    const routed: SampleRouting[] = [];
    for (const stage of STAGES) {
      const services = sample.filter((s) => s.stage === stage);
      const results = await verifyRouting({
        address: hosts['prod-proxy-passthrough']!,
        port: ports.https,
        services,
        ca: proxies.ca[stage].pem,
        expectedProxy: { [stage]: `${stage}-proxy` },
        expectedClient: client,
        localAddress: client,
        unknownNames: [`nobody.${stage === 'lab' ? site.labDomain : site.domain}`],
      });
      routed.push({ stage, services, results });
    }
    return routed;
  } finally {
    await proxies.stop();
  }
}

export interface NginxCheck {
  host: string;
  ms: number;
  ok: boolean;
  /** Warnings and errors nginx printed. */
  problems: string[];
}

export interface RenderAndCheck {
  renderMs: number;
  checks: NginxCheck[];
  totalMs: number;
}

async function nginxCheck(conf: string): Promise<NginxCheck> {
  const host = conf.split('/hosts/')[1]?.split('/')[0] ?? conf;
  const start = performance.now();
  const problems = (stderr: string) => stderr.split('\n').filter((l) => /\[(warn|emerg|alert|crit)\]/.test(l));
  try {
    const { stderr } = await promisify(execFile)('nginx', ['-t', '-p', NGINX_PREFIX, '-c', conf, '-e', 'stderr'], { maxBuffer: 1 << 22 });
    return { host, ms: performance.now() - start, ok: true, problems: problems(stderr) };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    return { host, ms: performance.now() - start, ok: false, problems: problems(stderr).length > 0 ? problems(stderr) : [stderr] };
  }
}

/**
 * Renders both stages of `site` into `dir` and runs `nginx -t` on every config side by side;
 * the times cover exactly that. Every certificate path points at one real certificate, issued
 * before the clock starts: issuing thousands would measure openssl, and nginx loads each path
 * all the same.
 */
export async function renderAndCheck(site: Site, dir: string): Promise<RenderAndCheck> {
  const outputs = readOutputsFile(join(import.meta.dirname, '..', 'fixtures', 'outputs-local.json'));
  const shared = issueCertificate(makeCa(join(dir, 'ca')), join(dir, 'shared'), ['bulk.pegasuspad.com']);
  for (const stage of STAGES) for (const certificate of certificatesOf(site.services, stage)) shareCertificate(shared, join(dir, 'tls'), certificate.name);

  const start = performance.now();
  const confs: string[] = [];
  for (const stage of STAGES) {
    const out = join(dir, stage);
    const result = render(site, stage, outputs, { outDir: out, tlsDir: join(dir, 'tls'), runtime: (host) => testRuntime(join(dir, 'run', host)) });
    confs.push(...result.files.filter((f) => f.endsWith('/nginx.conf')).map((f) => join(out, f)));
  }
  const renderMs = performance.now() - start;
  const checks = await Promise.all(confs.map(nginxCheck));
  return { renderMs, checks, totalMs: performance.now() - start };
}
