// What a stage ran with, in a person's terms and small enough to keep in its run record: its
// services (names and routes), its hosts, and a short hash of every other part of the site
// that shapes it. Free text (extra nginx lines, stage settings, users' keys) is only hashed,
// so a record never carries more of the site than names, routes and sizes.
import { createHash } from 'node:crypto';
import type { Service, Site, StageName } from '../model/types';

export interface ServiceFacts {
  name: string;
  hostnames: string[];
  /** `host:port` (or `address:port` for an upstream outside the site). */
  upstream: string;
  websocket: boolean;
  maxBodySize: string;
  certificate: string;
  /** Short hash of the extra location lines; '' when there are none. */
  extraLines: string;
}

export interface HostFacts {
  name: string;
  roles: string[];
  cpu: number;
  /** MiB */
  memory: number;
  /** GiB */
  bootDisk: number;
  image: string;
  ipv4: string | null;
  vmid: number;
  /** `label size GiB at mountpoint`, one a disk. */
  dataDisks: string[];
}

export interface StageFacts {
  services: ServiceFacts[];
  hosts: HostFacts[];
  /** The other stages' names this stage's passthrough routes, "hostname → stage" (none without a passthrough). */
  passthrough: string[];
  /** Every other setting that shapes the stage ("stage.tls", "users.pegasus", …) → short hash. */
  settings: Record<string, string>;
}

const short = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);

export const upstreamOf = (service: Pick<Service, 'upstream'>) => `${service.upstream.host ?? service.upstream.address}:${service.upstream.port}`;

export function stageFacts(site: Site, stage: StageName): StageFacts {
  const services = site.services
    .filter((s) => s.stage === stage)
    .map((s) => ({
      name: s.name,
      hostnames: [...s.hostnames],
      upstream: upstreamOf(s),
      websocket: s.websocket,
      maxBodySize: s.maxBodySize,
      certificate: s.certificate,
      extraLines: s.extraLocationLines.length ? short(s.extraLocationLines) : '',
    }));
  const hosts = site.hosts
    .filter((h) => h.stage === stage)
    .map((h) => ({
      name: h.name,
      roles: [...h.roles],
      cpu: h.cpu,
      memory: h.memory,
      bootDisk: h.bootDisk.size,
      image: h.image,
      ipv4: h.ipv4,
      vmid: h.vmid,
      dataDisks: h.dataDisks.map((d) => `${d.label} ${d.size} GiB at ${d.mountpoint}`),
    }));
  const settings: Record<string, string> = { domain: short(site.domain) };
  for (const [key, value] of Object.entries(site.stages[stage])) settings[`stage.${key}`] = short(value);
  for (const user of site.users) settings[`users.${user.name}`] = short(user);
  for (const [name, image] of Object.entries(site.images)) settings[`images.${name}`] = short(image);
  const hasPassthrough = site.hosts.some((h) => h.stage === stage && h.roles.includes('passthrough'));
  const passthrough = hasPassthrough ? site.services.filter((s) => s.stage !== stage).flatMap((s) => s.hostnames.map((name) => `${name} → ${s.stage}`)).sort() : [];
  return { services, hosts, passthrough, settings };
}

const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** A record's facts as read back: the shape checked, anything else (an older record) is none. */
export function readFacts(value: unknown): StageFacts | null {
  if (typeof value !== 'object' || value === null) return null;
  const { services, hosts, passthrough, settings } = value as Partial<StageFacts>;
  if (!Array.isArray(services) || !Array.isArray(hosts) || !isStrings(passthrough) || typeof settings !== 'object' || settings === null) return null;
  const serviceOk = (s: ServiceFacts) => typeof s?.name === 'string' && isStrings(s.hostnames) && typeof s.upstream === 'string';
  const hostOk = (h: HostFacts) => typeof h?.name === 'string' && isStrings(h.roles) && isStrings(h.dataDisks);
  return services.every(serviceOk) && hosts.every(hostOk) ? { services, hosts, passthrough: passthrough!, settings } : null;
}
