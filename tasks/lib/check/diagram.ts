// The site as a Mermaid flowchart, derived from the model only: the way a request travels
// (internet → NAT → passthrough → stage proxy → service → upstream), plus per stage the hosts
// that configure and certify. Same site, same text: the README keeps it and a test compares.
import { existsSync, readFileSync } from 'node:fs';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Host, Service, Site, StageName } from '../model';
import { platformOf } from '../platform';
import { writeFileAtomic } from '../shared/files';

export const DIAGRAM_START = '<!-- diagram:start -->';
export const DIAGRAM_END = '<!-- diagram:end -->';

/** The entry stage first, as a request meets them. */
const STAGE_ORDER: StageName[] = ['prod', 'lab'];

const ROLE_WORDS: Record<string, string> = {
  'control-node': 'control node',
  passthrough: 'SNI passthrough',
  'stage-proxy': 'stage proxy',
  'certificate-host': 'certificate host',
  application: 'application',
};

const id = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
const hostId = (host: Host | string) => id('h', typeof host === 'string' ? host : host.name);
const serviceId = (s: Service) => id('s', s.name);
/** Mermaid labels are quoted; a quote inside one is written as an entity. */
const label = (...lines: string[]) => `"${lines.map((l) => l.replace(/"/g, '#quot;')).join('<br/>')}"`;

function hostNode(host: Host): string {
  const roles = host.roles.map((r) => ROLE_WORDS[r] ?? r).join(', ');
  const disks = host.dataDisks.map((d) => `data ${d.mountpoint}${d.readOnly ? ' (ro)' : ''}`);
  const text = label(host.name, `${host.ipv4 ?? 'dhcp'} · ${roles || 'no roles'}`, ...disks);
  if (host.roles.includes('control-node')) return `${hostId(host)}[[${text}]]`;
  if (host.roles.includes('certificate-host')) return `${hostId(host)}[(${text})]`;
  return `${hostId(host)}[${text}]`;
}

export function siteDiagram(site: Site): string {
  const lines: string[] = ['flowchart LR', '  %% Generated from the site model by `npx tsx tasks/diagram.ts`; edit the site, not this.'];
  const add = (line: string, depth = 1) => lines.push(`${'  '.repeat(depth)}${line}`);
  const passthrough = site.hosts.find((h) => h.roles.includes('passthrough'));
  const proxyOf = (stage: StageName) => site.hosts.find((h) => h.stage === stage && h.roles.includes('stage-proxy'));

  add('internet(("internet"))');
  if (passthrough) {
    const stage = site.stages[passthrough.stage];
    const emulated = platformOf(stage).natEmulation(stage);
    add(`nat{{${label('NAT port forward', ...(emulated ? [emulated] : []))}}}`);
  }

  const external = new Map<string, string>();
  for (const stageName of STAGE_ORDER) {
    const stage = site.stages[stageName];
    add(`subgraph stage_${stageName}[${label(`${stageName} · ${stage.network.cidr} · ${stage.platform}`)}]`);
    for (const host of site.hosts.filter((h) => h.stage === stageName)) add(hostNode(host), 2);
    for (const service of site.services.filter((s) => s.stage === stageName)) {
      const extras = [service.websocket ? 'websocket' : '', service.maxBodySize !== '10m' ? `body ≤ ${service.maxBodySize}` : ''].filter(Boolean);
      add(`${serviceId(service)}([${label(service.name, ...service.hostnames, ...(extras.length ? [extras.join(' · ')] : []))}])`, 2);
      if (!service.upstream.host) external.set(service.upstream.address, id('a', service.upstream.address));
    }
    add('end');
  }
  for (const [address, nodeId] of external) add(`${nodeId}[${label(address, 'outside the site')}]`);

  // The request path.
  if (passthrough) {
    add('internet --> nat');
    add(`nat -->|${label('80, 443')}| ${hostId(passthrough)}`);
    const lab = proxyOf('lab');
    const prod = proxyOf('prod');
    if (lab) add(`${hostId(passthrough)} -->|${label(`*.${site.labDomain}`)}| ${hostId(lab)}`);
    if (prod) add(`${hostId(passthrough)} -->|${label('default')}| ${hostId(prod)}`);
  }
  for (const stageName of STAGE_ORDER) {
    const proxy = proxyOf(stageName);
    for (const service of site.services.filter((s) => s.stage === stageName)) {
      if (proxy) add(`${hostId(proxy)} --> ${serviceId(service)}`);
      const target = service.upstream.host ? hostId(service.upstream.host) : external.get(service.upstream.address)!;
      add(`${serviceId(service)} -->|${label(`:${service.upstream.port}`)}| ${target}`);
    }
  }

  // Who configures and who certifies, per stage (dotted: not request traffic).
  for (const stageName of STAGE_ORDER) {
    const hosts = site.hosts.filter((h) => h.stage === stageName);
    const control = hosts.find((h) => h.roles.includes('control-node'));
    if (control) {
      const others = hosts.filter((h) => h !== control).map(hostId);
      for (const other of others) add(`${hostId(control)} -.->|${label('ansible')}| ${other}`);
    }
    const certificates = hosts.find((h) => h.roles.includes('certificate-host'));
    const proxy = proxyOf(stageName);
    if (certificates && proxy && site.stages[stageName].tls.mode === 'acme') add(`${hostId(proxy)} -.->|${label('ACME HTTP-01')}| ${hostId(certificates)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What goes between the README markers. */
export function readmeBlock(diagram: string): string {
  return `\n\`\`\`mermaid\n${diagram}\`\`\`\n`;
}

function markers(readme: string, file: string): { from: number; to: number } {
  const start = readme.indexOf(DIAGRAM_START);
  const end = readme.indexOf(DIAGRAM_END);
  if (start === -1 || end === -1 || end < start) throw new HomeprodError(`${file} has no diagram block: put ${DIAGRAM_START} and ${DIAGRAM_END} on their own lines where it belongs`);
  return { from: start + DIAGRAM_START.length, to: end };
}

/** The README with its diagram block replaced; everything outside the markers stays as it is. */
export function withDiagram(readme: string, diagram: string, file = 'README.md'): string {
  const { from, to } = markers(readme, file);
  return `${readme.slice(0, from)}${readmeBlock(diagram)}${readme.slice(to)}`;
}

/** Whether the README's block is exactly the diagram of the site. */
export function diagramIsCurrent(readme: string, diagram: string, file = 'README.md'): boolean {
  const { from, to } = markers(readme, file);
  return readme.slice(from, to) === readmeBlock(diagram);
}

function readReadme(file: string): string {
  if (!existsSync(file)) throw new HomeprodError(`${file} does not exist`);
  return readFileSync(file, 'utf8');
}

/** Rewrites the README's block if it differs (temp + rename); returns whether it changed. */
export function writeDiagram(file: string, diagram: string): boolean {
  const readme = readReadme(file);
  const next = withDiagram(readme, diagram, file);
  if (next === readme) return false;
  writeFileAtomic(file, next);
  return true;
}

export function checkDiagram(file: string, diagram: string): void {
  if (!diagramIsCurrent(readReadme(file), diagram, file))
    throw new HomeprodError(`${file}: the diagram does not match the site`, EXIT.failed, `run: npx tsx tasks/diagram.ts --write ${file}`);
}
