// The nginx configuration of every passthrough and stage proxy host of a stage, as a map of
// relative path → file content. Addresses come from terraform outputs (any applied stage),
// falling back to the model for hosts not applied yet; the routing decisions live here and
// the nginx syntax lives in templates/nginx/.
import { EXIT, HomeprodError } from '../ui/errors';
import { certificatesOf, type Certificate } from '../model/certificates';
import type { HostOutput, Role, Service, Site, StageName } from '../model/types';
import { STAGES } from '../model/types';
import { renderTemplate } from './env';
import { hashSizes } from './hash';
import { expectedOutputs } from './outputs';

export const DEFAULT_TLS_DIR = '/etc/homeprod/tls';

/** Where nginx writes at run time; Debian's places on the hosts, a temp dir in tests. */
export interface NginxRuntime {
  user: string;
  pidFile: string;
  errorLog: string;
  /** Directory of the access logs. */
  logDir: string;
  /** Directory for request body / proxy buffers; null keeps nginx's built-in paths. */
  tempDir: string | null;
}

export const DEBIAN_RUNTIME: NginxRuntime = {
  user: 'www-data',
  pidFile: '/run/nginx.pid',
  errorLog: '/var/log/nginx/error.log',
  logDir: '/var/log/nginx',
  tempDir: null,
};

export interface NginxOptions {
  /** Directory holding <first hostname>/{fullchain,privkey}.pem on the proxies. */
  tlsDir?: string;
  /**
   * Listen on each host's own address (from the outputs) instead of every address, on these
   * ports; the passthrough then also connects from its own address. Loopback tests run three
   * hosts' nginx side by side this way.
   */
  listen?: { bindAddress: boolean; httpPort: number; httpsPort: number };
  /** Run-time paths per host; default Debian's. */
  runtime?: (host: string) => NginxRuntime;
}

interface Listen {
  http: string;
  https: string;
  httpPort: number;
  httpsPort: number;
  bind: string | null;
}

/** Everything the templates need to know about the hosts, across stages. */
class Hosts {
  private readonly byName = new Map<string, HostOutput>();

  constructor(site: Site, outputs: readonly HostOutput[]) {
    for (const stage of STAGES) {
      for (const host of site.hosts.filter((h) => h.stage === stage && h.ipv4 !== null)) {
        // The model's view only stands in for hosts that have no outputs yet.
        const derived = expectedOutputs({ ...site, hosts: [host] }, stage)[0];
        if (derived) this.byName.set(host.name, derived);
      }
    }
    for (const output of outputs) this.byName.set(output.name, output);
  }

  withRole(role: Role, stage?: StageName): HostOutput[] {
    return [...this.byName.values()].filter((h) => h.roles.includes(role) && (stage === undefined || h.stage === stage)).sort(byName);
  }

  address(name: string, what: string): string {
    const host = this.byName.get(name);
    if (!host) throw new HomeprodError(`${what}: host "${name}" has no address (not in the outputs, and not a static host of the site)`);
    return host.ipv4;
  }
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const SAFE_NAME = /^[a-z0-9.-]+$/;

function checkService(service: Service, index: number): void {
  service.hostnames.forEach((name, i) => {
    if (!SAFE_NAME.test(name)) throw new HomeprodError(`services[${index}].hostnames[${i}]: "${name}" cannot go into an nginx config`);
  });
  if (!/^\d+[kmg]?$/.test(service.maxBodySize)) throw new HomeprodError(`services[${index}].maxBodySize: "${service.maxBodySize}" is not an nginx size`);
}

/** Renders the nginx files of every passthrough and stage proxy host in `stage`. */
export function renderNginx(site: Site, stage: StageName, outputs: readonly HostOutput[], options: NginxOptions = {}): Map<string, string> {
  const hosts = new Hosts(site, outputs);
  const stageHosts = outputs.filter((h) => h.stage === stage).sort(byName);
  site.services.forEach(checkService);
  const files = new Map<string, string>();
  for (const host of stageHosts) {
    const isPassthrough = host.roles.includes('passthrough');
    const isProxy = host.roles.includes('stage-proxy');
    if (!isPassthrough && !isProxy) continue;
    const dir = `hosts/${host.name}/nginx`;
    const listen = listenFor(host, options);
    const runtime = (options.runtime ?? (() => DEBIAN_RUNTIME))(host.name);
    files.set(`${dir}/nginx.conf`, renderTemplate('nginx/nginx.conf.njk', { host: host.name, runtime, stream: isPassthrough }));
    if (isPassthrough) {
      for (const [file, text] of passthroughFiles(site, hosts, listen, runtime)) files.set(`${dir}/homeprod/${file}`, text);
    }
    if (isProxy) {
      for (const [file, text] of proxyFiles(site, stage, host, hosts, listen, runtime, options.tlsDir ?? DEFAULT_TLS_DIR)) files.set(`${dir}/homeprod/${file}`, text);
    }
  }
  return files;
}

function listenFor(host: HostOutput, options: NginxOptions): Listen {
  const l = options.listen ?? { bindAddress: false, httpPort: 80, httpsPort: 443 };
  const prefix = l.bindAddress ? `${host.ipv4}:` : '';
  return { http: `${prefix}${l.httpPort}`, https: `${prefix}${l.httpsPort}`, httpPort: l.httpPort, httpsPort: l.httpsPort, bind: l.bindAddress ? host.ipv4 : null };
}

interface Route {
  name: string;
  upstream: string;
}

function passthroughFiles(site: Site, hosts: Hosts, listen: Listen, runtime: NginxRuntime): Array<[string, string]> {
  const proxies = Object.fromEntries(STAGES.map((s) => [s, hosts.withRole('stage-proxy', s)])) as Record<StageName, HostOutput[]>;
  if (proxies.prod.length === 0) {
    throw new HomeprodError('the passthrough sends every name outside the lab domain to the prod stage proxy, but stage prod has no host with role stage-proxy', EXIT.failed);
  }
  const routed = STAGES.filter((s) => proxies[s].length > 0);
  const upstream = (stage: StageName, kind: 'tls' | 'http' | 'acme') => `homeprod_${stage}_${kind}`;
  // Exact names first-class: each service's names go to its own stage's proxy, whatever its
  // domain; the lab wildcard and the default cover names the site does not list.
  const names = (kind: 'tls' | 'http' | 'acme'): Route[] =>
    site.services
      .filter((s) => routed.includes(s.stage))
      .flatMap((s) => s.hostnames.map((name) => ({ name, upstream: upstream(s.stage, kind) })))
      .sort(byName);
  const server = (h: HostOutput, port: number) => `${h.ipv4}:${port}`;
  const stageUpstreams = routed.map((stage) => ({
    stage,
    tls: upstream(stage, 'tls'),
    http: upstream(stage, 'http'),
    acme: upstream(stage, 'acme'),
    tlsServers: proxies[stage].map((h) => server(h, listen.httpsPort)),
    httpServers: proxies[stage].map((h) => server(h, listen.httpPort)),
    // ACME HTTP-01 goes to the stage's certificate host; a stage without one answers
    // challenges on its proxy.
    acmeServers: (hosts.withRole('certificate-host', stage).length > 0 ? hosts.withRole('certificate-host', stage) : proxies[stage]).map((h) => server(h, listen.httpPort)),
  }));
  const labRoute = routed.includes('lab') ? `.${site.labDomain}` : null;
  const tlsRoutes = names('tls');
  const common = { listen, runtime, labRoute, stages: stageUpstreams, labDomain: site.labDomain };
  return [
    ['stream/passthrough.conf', renderTemplate('nginx/passthrough-stream.conf.njk', { ...common, routes: tlsRoutes, hash: hashSizes(mapKeys(tlsRoutes, labRoute)) })],
    [
      'http/passthrough.conf',
      renderTemplate('nginx/passthrough-http.conf.njk', { ...common, routes: names('http'), acmeRoutes: names('acme'), hash: hashSizes(mapKeys(tlsRoutes, labRoute)) }),
    ],
    ['snippets/forwarded.conf', renderTemplate('nginx/forwarded.conf.njk', {})],
  ];
}

/** The keys nginx hashes for a `hostnames` map: exact names, and the wildcard (reversed). */
function mapKeys(routes: Route[], wildcard: string | null): string[] {
  const keys = routes.map((r) => r.name);
  if (wildcard) keys.push(wildcard.split('.').reverse().join('.'));
  return keys;
}

function proxyFiles(site: Site, stage: StageName, host: HostOutput, hosts: Hosts, listen: Listen, runtime: NginxRuntime, tlsDir: string): Array<[string, string]> {
  // Prod's passthrough is the site's one entry point (both stages' names come in through it):
  // only its PROXY protocol headers and X-Real-IP are believed, never a lab host's.
  const passthroughs = hosts.withRole('passthrough', 'prod');
  if (passthroughs.length !== 1) {
    throw new HomeprodError(
      `stage proxy ${host.name} accepts connections only through prod's passthrough (PROXY protocol), but stage prod has ${passthroughs.length || 'no'} host${passthroughs.length > 1 ? 's' : ''} with role passthrough`,
    );
  }
  const indexOf = new Map(site.services.map((s, i) => [s, i]));
  const services = site.services.filter((s) => s.stage === stage).sort(byName);
  const tls = site.stages[stage].tls;
  const files: Array<[string, string]> = [
    [
      'http/00-proxy.conf',
      renderTemplate('nginx/proxy.conf.njk', {
        proxy: host.name,
        listen,
        runtime,
        passthrough: passthroughs[0]!.ipv4,
        hash: hashSizes(services.flatMap((s) => s.hostnames)),
      }),
    ],
    ['snippets/tls.conf', renderTemplate('nginx/tls.conf.njk', { allowTls12: tls.allowTls12 })],
    ['snippets/proxy-headers.conf', renderTemplate('nginx/proxy-headers.conf.njk', {})],
  ];
  const upstreamOf = (service: Service) => `homeprod_service_${service.name.replaceAll('-', '_')}`;
  const upstreams = services.map((service) => {
    const index = indexOf.get(service) ?? -1;
    const address = service.upstream.host ? hosts.address(service.upstream.host, `services[${index}].upstream.host`) : service.upstream.address;
    if (!address) throw new HomeprodError(`services[${index}].upstream: neither a host nor an address`);
    return { service: service.name, name: upstreamOf(service), server: `${address}:${service.upstream.port}` };
  });
  const routes = services.flatMap((s) => s.hostnames.map((name) => ({ name, upstream: upstreamOf(s) }))).sort(byName);
  const sniRoutes = services.flatMap((s) => s.hostnames.map((name) => ({ name, certificate: s.certificate }))).sort(byName);
  files.push(['http/upstreams.conf', renderTemplate('nginx/upstreams.conf.njk', { proxy: host.name, routes, sniRoutes, upstreams })]);
  for (const certificate of certificatesOf(services, stage)) {
    files.push([
      `http/certificate-${certificate.name}.conf`,
      renderTemplate('nginx/certificate.conf.njk', { proxy: host.name, listen, certificate, blocks: serverBlocks(certificate), certDir: `${tlsDir}/${certificate.name}` }),
    ]);
  }
  return files;
}

/**
 * The TLS server blocks of one certificate: its services grouped by the settings a server
 * block holds for all its names (nginx loads the certificate once per block, ~1 ms).
 */
function serverBlocks(certificate: Certificate) {
  const blocks = new Map<string, { services: string[]; hostnames: string[]; maxBodySize: string; websocket: boolean; extraLocationLines: string[]; ownHeaders: boolean }>();
  for (const service of certificate.services) {
    const { maxBodySize, websocket, extraLocationLines } = service;
    const key = JSON.stringify([maxBodySize, websocket, extraLocationLines]);
    const block = blocks.get(key) ?? {
      services: [],
      hostnames: [],
      maxBodySize,
      websocket,
      extraLocationLines,
      // Any extra line may be a proxy_set_header (nginx also reads it quoted), so every
      // location with extra lines sets the shared headers itself.
      ownHeaders: websocket || extraLocationLines.length > 0,
    };
    block.services.push(service.name);
    block.hostnames.push(...service.hostnames);
    blocks.set(key, block);
  }
  return [...blocks.values()];
}
