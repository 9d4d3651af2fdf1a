// Derived values: everything the layers need that follows from the site file.
// Pure functions of validated input; the cross-field rules check what they produce.
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { HostFile, ServiceFile, SiteFile } from './schema';
import type { DataDisk, Host, Service, Site, Stage, StageName, StartupPhase } from './types';

type StageFile = SiteFile['stages'][StageName];

export const BOOT_ORDER: Record<StartupPhase, number | null> = {
  network: 1000,
  infrastructure: 2000,
  desktop: 3000,
  internal: 4000,
  external: 5000,
  never: null,
};

export function networkBase(cidr: string): string {
  return cidr.split('/')[0]!;
}

export function addressFor(cidr: string, suffix: number): string {
  const octets = networkBase(cidr).split('.');
  return `${octets.slice(0, 3).join('.')}.${suffix}`;
}

export function vmidFor(prefix: number, suffix: number): number {
  return Number(`${prefix}${String(suffix).padStart(3, '0')}`);
}

export function dataVmidFor(vmid: number): number {
  return Number(`9${vmid}`);
}

/** A stable, locally administered unicast MAC derived from the site and host name. */
export function derivedMac(domain: string, host: string): string {
  const bytes = createHash('sha256').update(`${domain}/${host}`).digest().subarray(0, 5);
  return ['02', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function normalizeStage(name: StageName, stage: StageFile, domain: string): Stage {
  const gateway = stage.network.gateway ?? addressFor(stage.network.cidr, 1);
  return {
    name,
    platform: stage.platform,
    proxmox: { ...stage.proxmox },
    datastores: stage.datastores,
    network: {
      cidr: stage.network.cidr,
      base: networkBase(stage.network.cidr),
      prefixLength: 24,
      gateway,
      dnsSearch: stage.network.dnsSearch ?? domain,
      dnsServers: stage.network.dnsServers ?? [gateway],
      reserved: stage.network.reserved,
      static: stage.network.static,
      dhcp: stage.network.dhcp,
    },
    vmidPrefix: stage.vmidPrefix,
    vmidRange: { from: vmidFor(stage.vmidPrefix, 1), to: vmidFor(stage.vmidPrefix, 999) },
    state: stage.state.backend === 'pg' ? { backend: 'pg', schemaPrefix: stage.state.schemaPrefix } : { backend: 'local' },
    tls: {
      mode: stage.tls.mode,
      acmeDirectory: stage.tls.acmeDirectory,
      acmeEmail: stage.tls.acmeEmail,
      filesDir: stage.tls.filesDir,
      allowTls12: stage.tls.allowTls12,
    },
    // beyondLoopback is a check of the site only: the platform gets where to listen.
    forward: { address: stage.forward.address, httpPort: stage.forward.httpPort, httpsPort: stage.forward.httpsPort },
  };
}

/** A host's stacks: `<host>-vm`, and `<host>-data-vm` when it has data disks. */
export const stackNamesOf = (host: string) => ({ vm: `${host}-vm`, data: `${host}-data-vm` });

/** The host a stack belongs to, also one no longer in the site (the inverse of stackNamesOf). */
export const hostOfStack = (stack: string): string => stack.replace(/-(data-)?vm$/, '');

export function normalizeHost(host: HostFile, stage: Stage, domain: string): Host {
  const vmid = vmidFor(stage.vmidPrefix, host.suffix);
  const dataDisks: DataDisk[] = host.dataDisks.map((d, i) => ({
    label: d.label,
    mountpoint: d.mountpoint,
    size: d.size,
    readOnly: d.readOnly,
    datastoreClass: d.datastore,
    interface: `scsi${i + 1}`,
  }));
  const hasData = dataDisks.length > 0;
  return {
    name: host.name,
    stage: host.stage,
    roles: host.roles,
    cpu: host.cpu,
    memory: host.memory,
    bootDisk: { size: host.bootDisk.size, datastoreClass: host.bootDisk.datastore },
    image: host.image,
    startup: host.startup,
    bootOrder: BOOT_ORDER[host.startup],
    onBoot: host.startup !== 'never',
    ipv4: host.dhcp ? null : addressFor(stage.network.cidr, host.suffix),
    ipSuffix: host.dhcp ? null : host.suffix,
    vmid,
    mac: host.mac ?? derivedMac(domain, host.name),
    tags: [...new Set([host.stage, ...host.roles, host.startup, ...host.tags])],
    dataDisks,
    dataVmName: hasData ? `${host.name}-data` : null,
    dataVmid: hasData ? dataVmidFor(vmid) : null,
    stackName: stackNamesOf(host.name).vm,
    dataStackName: hasData ? stackNamesOf(host.name).data : null,
  };
}

export function normalizeService(service: ServiceFile, hosts: Map<string, Host>): Service {
  const upstreamHost = service.upstream.host ? hosts.get(service.upstream.host) : undefined;
  return {
    name: service.name,
    stage: service.stage,
    hostnames: service.hostnames,
    upstream: {
      host: upstreamHost?.name ?? null,
      address: upstreamHost?.ipv4 ?? service.upstream.address ?? '',
      port: service.upstream.port,
    },
    websocket: service.websocket,
    maxBodySize: service.maxBodySize,
    extraLocationLines: service.extraLocationLines,
    certificate: service.certificate ?? service.hostnames[0]!,
  };
}

export function normalizeSite(file: string, site: SiteFile): Site {
  const stages = {
    lab: normalizeStage('lab', site.stages.lab, site.domain),
    prod: normalizeStage('prod', site.stages.prod, site.domain),
  };
  // A CA file is named relative to the site file, like the site's imports.
  for (const stage of Object.values(stages)) {
    if (stage.proxmox.caCert) stage.proxmox = { ...stage.proxmox, caCert: resolve(dirname(file), stage.proxmox.caCert) };
  }
  const hosts = site.hosts.map((h) => normalizeHost(h, stages[h.stage], site.domain));
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return {
    file,
    domain: site.domain,
    labDomain: `lab.${site.domain}`,
    stages,
    users: site.users,
    images: Object.fromEntries(Object.entries(site.images).map(([name, i]) => [name, { name, ...i }])),
    hosts,
    services: site.services.map((s) => normalizeService(s, byName)),
  };
}
