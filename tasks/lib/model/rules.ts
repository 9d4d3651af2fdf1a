// Cross-field rules: what no single field can check. They run on every part of the site
// that passed the schema, so one run reports every mistake at once.
import { isIpv4 } from './schema';
import type { HostFile, ServiceFile } from './schema';
import type { SiteIssue } from './source';
import { PLATFORM_TRAITS, type Host, type Role, type Stage, type StageName } from './types';

export interface RuleInput {
  /** Undefined when the domain itself is invalid. */
  domain?: string;
  stages: Partial<Record<StageName, Stage>>;
  /** Valid hosts with their index in the merged list, normalized when their stage is valid. */
  hosts: Array<{ index: number; file: HostFile; host?: Host }>;
  services: Array<{ index: number; file: ServiceFile }>;
  users: Array<{ index: number; name: string }>;
  /** Keys of `images`, undefined when that section is invalid. */
  images?: string[];
  /** Every host name in the file, valid host or not (so one bad host does not cascade). */
  allHostNames: string[];
  /** The stage and roles of every host whose stage and roles are valid, whatever else is wrong with it. */
  allHostRoles: Array<{ stage: StageName; roles: Role[] }>;
}

export type Rule = (input: RuleInput) => SiteIssue[];

/** Reports every element after the first that repeats a key. */
function duplicates<T>(items: T[], key: (item: T) => string | null | undefined, issue: (item: T, first: T, value: string) => SiteIssue): SiteIssue[] {
  const seen = new Map<string, T>();
  const issues: SiteIssue[] = [];
  for (const item of items) {
    const value = key(item);
    if (value === null || value === undefined) continue;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, item);
    else issues.push(issue(item, first, value));
  }
  return issues;
}

export const uniqueHostNames: Rule = ({ hosts }) =>
  duplicates(hosts, (h) => h.file.name, (h, first, v) => ({ path: ['hosts', h.index, 'name'], message: `duplicate host name "${v}" (also hosts[${first.index}])` }));

export const uniqueAddresses: Rule = ({ hosts }) =>
  duplicates(hosts, (h) => h.host?.ipv4, (h, first, v) => ({ path: ['hosts', h.index, 'suffix'], message: `duplicate IP ${v} (also hosts[${first.index}] ${first.file.name})` }));

export const uniqueVmids: Rule = ({ hosts }) => {
  // Data VM ids share the VMID namespace with boot VMs.
  const ids = hosts.flatMap((h) => (h.host ? [{ h, id: h.host.vmid, what: 'VMID' }, ...(h.host.dataVmid ? [{ h, id: h.host.dataVmid, what: 'data VM VMID' }] : [])] : []));
  return duplicates(ids, (x) => String(x.id), (x, first, v) => ({ path: ['hosts', x.h.index, 'suffix'], message: `duplicate ${x.what} ${v} (also hosts[${first.h.index}] ${first.h.file.name})` }));
};

export const uniqueMacs: Rule = ({ hosts }) =>
  duplicates(hosts, (h) => h.host?.mac, (h, first, v) => ({ path: ['hosts', h.index, h.file.mac ? 'mac' : 'name'], message: `duplicate MAC ${v} (also hosts[${first.index}] ${first.file.name})` }));

export const uniqueServiceNames: Rule = ({ services }) =>
  duplicates(services, (s) => s.file.name, (s, first, v) => ({ path: ['services', s.index, 'name'], message: `duplicate service name "${v}" (also services[${first.index}])` }));

export const uniqueServiceHostnames: Rule = ({ services }) =>
  duplicates(
    services.flatMap((s) => s.file.hostnames.map((name, i) => ({ s, name, i }))),
    (x) => x.name,
    (x, first, v) => ({ path: ['services', x.s.index, 'hostnames', x.i], message: `duplicate service hostname "${v}" (also services[${first.s.index}] ${first.s.file.name})` }),
  );

export const suffixInStaticRange: Rule = ({ hosts, stages }) =>
  hosts.flatMap(({ index, file }) => {
    const range = stages[file.stage]?.network.static;
    if (file.dhcp || !range || (file.suffix >= range.from && file.suffix <= range.to)) return [];
    return [{ path: ['hosts', index, 'suffix'], message: `suffix ${file.suffix} is outside the ${file.stage} static range ${range.from}-${range.to}` }];
  });

export const knownImage: Rule = ({ hosts, images }) =>
  images === undefined
    ? []
    : hosts.flatMap(({ index, file }) => (images.includes(file.image) ? [] : [{ path: ['hosts', index, 'image'], message: `unknown image "${file.image}"${images.length ? ` (known: ${images.join(', ')})` : ' (no images defined)'}` }]));

export const uniqueMountpoints: Rule = ({ hosts }) =>
  hosts.flatMap(({ index, file }) => [
    ...duplicates(file.dataDisks.map((d, i) => ({ d, i })), (x) => x.d.mountpoint, (x, first, v) => ({ path: ['hosts', index, 'dataDisks', x.i, 'mountpoint'], message: `two data disks mount on ${v} (also dataDisks[${first.i}])` })),
    ...duplicates(file.dataDisks.map((d, i) => ({ d, i })), (x) => x.d.label, (x, first, v) => ({ path: ['hosts', index, 'dataDisks', x.i, 'label'], message: `duplicate data disk label "${v}" (also dataDisks[${first.i}])` })),
  ]);

export const localHostsAreStatic: Rule = ({ hosts, stages }) =>
  hosts.flatMap(({ index, file }) => {
    const platform = stages[file.stage]?.platform;
    return file.dhcp && platform && !PLATFORM_TRAITS[platform].dhcp ? [{ path: ['hosts', index, 'dhcp'], message: `the ${platform} platform has no DHCP server: give the host a static suffix` }] : [];
  });

export const upstreamResolves: Rule = ({ services, hosts, allHostNames }) => {
  const byName = new Map(hosts.map((h) => [h.file.name, h.file]));
  return services.flatMap(({ index, file }) => {
    const { host, address } = file.upstream;
    const path = ['services', index, 'upstream'];
    if (host !== undefined && address !== undefined) return [{ path, message: 'give either "host" or "address", not both' }];
    if (host === undefined && address === undefined) return [{ path, message: 'needs a "host" of the site or an "address"' }];
    if (address !== undefined) return isIpv4(address) ? [] : [{ path: [...path, 'address'], message: `"${address}" is not an IPv4 address` }];
    const target = byName.get(host!);
    if (!target && allHostNames.includes(host!)) return [];
    if (!target) {
      const names = [...byName.keys()];
      const near = nearest(host!, names);
      return [{ path: [...path, 'host'], message: `"${host}" is neither a host of the site nor an address${near ? ` (did you mean "${near}"?)` : ''}` }];
    }
    if (target.stage !== file.stage) return [{ path: [...path, 'host'], message: `host "${host}" is in stage ${target.stage}, the service in ${file.stage}` }];
    if (target.dhcp) return [{ path: [...path, 'host'], message: `host "${host}" takes DHCP; an upstream needs a static address` }];
    return [];
  });
};

const PROXY_ROLES: Role[] = ['passthrough', 'stage-proxy'];
const sameNetwork = (address: string, base: string) => address.split('.').slice(0, 3).join('.') === base.split('.').slice(0, 3).join('.');

/** What kind of address no upstream may be (it would reach the proxy itself or nothing of the site). */
function specialAddress(address: string): string | undefined {
  const [a, b] = address.split('.').map(Number) as [number, number];
  if (a === 127) return 'a loopback address (the stage proxy itself)';
  if (a === 169 && b === 254) return 'a link-local address (cloud metadata, not a service)';
  if (a === 0 || a >= 224) return 'not a host address';
  return undefined;
}

/**
 * An upstream is an application of its own stage: lab upstreams stay in lab's network, prod
 * ones never reach into lab, and none is a proxy of the site (a request loop, or a way around
 * the passthrough's routing).
 */
export const upstreamStaysInStage: Rule = ({ services, hosts, stages }) => {
  const proxies = new Map(hosts.filter((h) => h.host?.ipv4 && h.file.roles.some((r) => PROXY_ROLES.includes(r))).map((h) => [h.host!.ipv4!, h.file.name]));
  const stageOf = new Map(hosts.filter((h) => h.host?.ipv4).map((h) => [h.host!.ipv4!, h.file]));
  return services.flatMap(({ index, file }) => {
    const { address, host } = file.upstream;
    if (host !== undefined) {
      const target = hosts.find((h) => h.file.name === host)?.file;
      return target && target.roles.some((r) => PROXY_ROLES.includes(r)) ? [{ path: ['services', index, 'upstream', 'host'], message: `host "${host}" is a proxy of the site; an upstream is an application` }] : [];
    }
    if (address === undefined || !isIpv4(address)) return [];
    const path = ['services', index, 'upstream', 'address'];
    const special = specialAddress(address);
    if (special) return [{ path, message: `${address} is ${special}` }];
    if (proxies.has(address)) return [{ path, message: `${address} is the proxy ${proxies.get(address)}; an upstream is an application` }];
    const other = stageOf.get(address);
    if (other && other.stage !== file.stage) return [{ path, message: `${address} is host ${other.name} of stage ${other.stage}, the service is in ${file.stage}` }];
    const lab = stages.lab?.network;
    const own = stages[file.stage]?.network;
    if (file.stage === 'lab' && lab && !sameNetwork(address, lab.base)) return [{ path, message: `${address} is outside lab's network ${lab.cidr}; lab upstreams stay in lab` }];
    if (file.stage === 'prod' && lab && own && !sameNetwork(address, own.base) && sameNetwork(address, lab.base))
      return [{ path, message: `${address} is in lab's network ${lab.cidr}; a prod service never depends on lab` }];
    return [];
  });
};

/** The gateway is a host address of the stage's /24, and no VM takes it. */
export const gatewayFits: Rule = ({ stages, hosts }) => [
  ...Object.values(stages).flatMap((stage) => {
    const { gateway, base, cidr } = stage!.network;
    const last = Number(gateway.split('.')[3]);
    const path = ['stages', stage!.name, 'network', 'gateway'];
    if (!sameNetwork(gateway, base)) return [{ path, message: `gateway ${gateway} is outside the stage network ${cidr}` }];
    if (last === 0 || last === 255) return [{ path, message: `gateway ${gateway} is the network's ${last === 0 ? 'own' : 'broadcast'} address` }];
    return [];
  }),
  ...hosts.flatMap(({ index, file, host }) => {
    const gateway = stages[file.stage]?.network.gateway;
    return host?.ipv4 && host.ipv4 === gateway ? [{ path: ['hosts', index, 'suffix'], message: `${host.ipv4} is the ${file.stage} gateway's address` }] : [];
  }),
];

/** PostgreSQL cuts names at 63 bytes: two stacks whose schema names share 63 bytes would share one state. */
export const PG_NAME_BYTES = 63;
export const schemaPrefixFits: Rule = ({ stages, hosts }) =>
  Object.values(stages).flatMap((stage) => {
    if (stage!.state.backend !== 'pg') return [];
    const prefix = stage!.state.schemaPrefix;
    const stacks = hosts.filter((h) => h.file.stage === stage!.name && h.host).flatMap((h) => [h.host!.stackName, h.host!.dataStackName ?? '']);
    const longest = stacks.reduce((a, b) => (b.length > a.length ? b : a), '');
    const bytes = Buffer.byteLength(prefix + longest);
    return bytes > PG_NAME_BYTES
      ? [{ path: ['stages', stage!.name, 'state', 'schemaPrefix'], message: `"${prefix}" with stack ${longest} makes a ${bytes}-byte schema name; PostgreSQL keeps ${PG_NAME_BYTES}, so stacks would share state` }]
      : [];
  });

/** A host's data VM is named <host>-data: no other host may have that name (their stacks would collide). */
export const dataVmNamesFree: Rule = ({ hosts }) => {
  const dataOwners = new Map(hosts.filter((h) => h.file.dataDisks.length > 0).map((h) => [`${h.file.name}-data`, h.file.name]));
  return hosts.flatMap(({ index, file }) =>
    dataOwners.has(file.name) ? [{ path: ['hosts', index, 'name'], message: `"${file.name}" is the name of host ${dataOwners.get(file.name)}'s data VM` }] : [],
  );
};

/** A certificate's name becomes file names on the proxies (certificate-<name>.conf). */
export const MAX_CERTIFICATE_NAME = 128;
export const certificateNamesFit: Rule = ({ services }) =>
  services.flatMap(({ index, file }) =>
    file.certificate === undefined && file.hostnames[0]!.length > MAX_CERTIFICATE_NAME
      ? [{ path: ['services', index, 'hostnames', 0], message: `names the service's certificate and is longer than ${MAX_CERTIFICATE_NAME} characters; set a shorter "certificate"` }]
      : [],
  );

export const uniqueUserNames: Rule = ({ users }) =>
  duplicates(users, (u) => u.name, (u, first, v) => ({ path: ['users', u.index, 'name'], message: `duplicate user "${v}" (also users[${first.index}])` }));

export const hostnamesInDomain: Rule = ({ services, domain }) => {
  if (domain === undefined) return [];
  const lab = `lab.${domain}`;
  return services.flatMap(({ index, file }) =>
    file.hostnames.flatMap((name, i) => {
      const path = ['services', index, 'hostnames', i];
      const under = (zone: string) => name === zone || name.endsWith(`.${zone}`);
      if (!under(domain)) return [{ path, message: `"${name}" is outside the domain ${domain}` }];
      if (file.stage === 'lab' && !(under(lab) && name !== lab)) return [{ path, message: `lab service hostname "${name}" must be under ${lab} (the passthrough routes lab by that suffix)` }];
      if (file.stage === 'prod' && under(lab)) return [{ path, message: `prod service hostname "${name}" is under ${lab}, which the passthrough routes to the lab proxy` }];
      return [];
    }),
  );
};

/** Let's Encrypt's limit on the names of one certificate. */
export const ACME_MAX_NAMES = 100;

/** Services that share a certificate are of one stage, and an ACME certificate holds at most 100 names. */
export const sharedCertificates: Rule = ({ services, stages }) => {
  const first = new Map<string, { index: number; file: ServiceFile }>();
  const names = new Map<string, number>();
  return services.flatMap((s) => {
    const name = s.file.certificate ?? s.file.hostnames[0]!;
    const path = ['services', s.index, s.file.certificate ? 'certificate' : 'hostnames'];
    const owner = first.get(name);
    if (!owner) first.set(name, s);
    else if (owner.file.stage !== s.file.stage)
      return [{ path, message: `certificate "${name}" also holds services[${owner.index}] ${owner.file.name} of stage ${owner.file.stage}; a certificate belongs to one stage` }];
    const count = (names.get(name) ?? 0) + s.file.hostnames.length;
    names.set(name, count);
    if (stages[s.file.stage]?.tls.mode === 'acme' && count > ACME_MAX_NAMES && count - s.file.hostnames.length <= ACME_MAX_NAMES)
      return [{ path, message: `certificate "${name}" would hold ${count} names; an ACME certificate holds at most ${ACME_MAX_NAMES}` }];
    return [];
  });
};

const NEEDED: Record<StageName, Array<{ role: Role; why: string }>> = {
  lab: [
    { role: 'control-node', why: 'a control node runs the stage\'s playbooks' },
    { role: 'stage-proxy', why: 'a stage proxy serves the stage\'s services' },
  ],
  prod: [
    { role: 'control-node', why: 'a control node runs the stage\'s playbooks' },
    { role: 'stage-proxy', why: 'a stage proxy serves the stage\'s services' },
    { role: 'passthrough', why: 'the SNI passthrough is the entry point for both stages' },
  ],
};

export const stagesHaveNeededHosts: Rule = ({ allHostRoles, stages }) =>
  (Object.keys(NEEDED) as StageName[]).flatMap((stage) => {
    if (!stages[stage]) return [];
    const roles = new Map<Role, number>();
    for (const h of allHostRoles) if (h.stage === stage) for (const r of h.roles) roles.set(r, (roles.get(r) ?? 0) + 1);
    const issues: SiteIssue[] = NEEDED[stage].filter((n) => !roles.has(n.role)).map((n) => ({ path: ['stages', stage], message: `stage ${stage} has no host with role "${n.role}": ${n.why}` }));
    for (const single of ['control-node', 'stage-proxy', 'passthrough'] as const)
      if ((roles.get(single) ?? 0) > 1) issues.push({ path: ['stages', stage], message: `stage ${stage} has ${roles.get(single)} hosts with role "${single}"; it needs exactly one` });
    if (stages[stage]!.tls.mode === 'acme' && !roles.has('certificate-host'))
      issues.push({ path: ['stages', stage, 'tls', 'mode'], message: `stage ${stage} uses acme but has no host with role "certificate-host"` });
    return issues;
  });

export const distinctStageNetworks: Rule = ({ stages }) => {
  const { lab, prod } = stages;
  if (!lab || !prod || lab.network.cidr !== prod.network.cidr) return [];
  const separate = [lab.platform, prod.platform].find((p) => !PLATFORM_TRAITS[p].stagesMayShareSubnet);
  if (!separate) return [];
  return [{ path: ['stages', 'lab', 'network', 'cidr'], message: `lab and prod share ${lab.network.cidr}; on the ${separate} platform each stage needs its own subnet` }];
};

export const distinctVmidPrefixes: Rule = ({ stages }) =>
  stages.lab && stages.prod && stages.lab.vmidPrefix === stages.prod.vmidPrefix
    ? [{ path: ['stages', 'lab', 'vmidPrefix'], message: `lab and prod share VMID prefix ${stages.lab.vmidPrefix}` }]
    : [];

export const RULES: Record<string, Rule> = {
  uniqueHostNames,
  uniqueAddresses,
  uniqueVmids,
  uniqueMacs,
  uniqueServiceNames,
  uniqueServiceHostnames,
  suffixInStaticRange,
  knownImage,
  uniqueMountpoints,
  localHostsAreStatic,
  upstreamResolves,
  upstreamStaysInStage,
  gatewayFits,
  schemaPrefixFits,
  dataVmNamesFree,
  certificateNamesFit,
  uniqueUserNames,
  hostnamesInDomain,
  sharedCertificates,
  stagesHaveNeededHosts,
  distinctStageNetworks,
  distinctVmidPrefixes,
};

export function runRules(input: RuleInput): SiteIssue[] {
  return Object.values(RULES).flatMap((rule) => rule(input));
}

/** The closest candidate by edit distance, when it is close enough to be a likely typo. */
export function nearest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
