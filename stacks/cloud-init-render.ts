// Renders a host's cloud-init user-data, network-data and first-boot data-disk script from
// templates/cloud-init/. Pure functions of the model: the CloudInit construct uploads what
// this returns, and the content hash in each snippet's file name comes from this text.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import type { DataDisk, Host, Stage, User } from '../tasks/lib/model/types';
import { PROJECT_ROOT } from './terraform-offline';

/** One piece of first-boot configuration; tasks compose in the order they are given. */
export interface CloudInitTask {
  aptSources?: Record<string, { source: string; key?: string }>;
  packages?: string[];
  writeFiles?: Array<{ path: string; content: string; permissions: string }>;
  runcmd?: string[];
}

const shellQuote = (value: unknown) => `'${String(value).replace(/'/g, `'\\''`)}'`;

let env: nunjucks.Environment | undefined;
function templates(): nunjucks.Environment {
  if (!env) {
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(PROJECT_ROOT, 'templates', 'cloud-init')), {
      autoescape: false,
      throwOnUndefined: true,
    });
    env.addFilter('shq', shellQuote);
  }
  return env;
}

/** Later tasks append to earlier ones; a repeated package or apt source keeps its first place. */
export function composeTasks(tasks: CloudInitTask[]): Required<CloudInitTask> {
  const out: Required<CloudInitTask> = { aptSources: {}, packages: [], writeFiles: [], runcmd: [] };
  for (const task of tasks) {
    for (const [name, source] of Object.entries(task.aptSources ?? {})) out.aptSources[name] ??= source;
    for (const pkg of task.packages ?? []) if (!out.packages.includes(pkg)) out.packages.push(pkg);
    out.writeFiles.push(...(task.writeFiles ?? []));
    out.runcmd.push(...(task.runcmd ?? []));
  }
  return out;
}

export const DATA_DISK_SCRIPT = '/usr/local/sbin/homeprod-data-disks';

/** The drive serial a data disk is created with, so the guest finds it under /dev/disk/by-id. */
export function dataDiskSerial(disk: Pick<DataDisk, 'label'>): string {
  return `hp-${disk.label}`.slice(0, 20);
}

export function qemuGuestAgentTask(): CloudInitTask {
  return { packages: ['qemu-guest-agent'], runcmd: ['systemctl enable --now qemu-guest-agent'] };
}

export function dataDiskTask(host: Host): CloudInitTask {
  if (host.dataDisks.length === 0) return {};
  const script = templates().render('data-disks.sh.njk', {
    host: host.name,
    dataVm: host.dataVmName,
    disks: host.dataDisks.map((d) => ({ ...d, serial: dataDiskSerial(d) })),
  });
  return {
    packages: ['e2fsprogs'],
    writeFiles: [{ path: DATA_DISK_SCRIPT, content: script, permissions: '0755' }],
    runcmd: [DATA_DISK_SCRIPT],
  };
}

export interface RenderedCloudInit {
  userData: string;
  networkData: string;
}

export function renderCloudInit(host: Host, stage: Stage, users: User[], tasks: CloudInitTask[]): RenderedCloudInit {
  const composed = composeTasks(tasks);
  const userData = templates().render('user-data.yaml.njk', {
    host,
    fqdn: `${host.name}.${stage.network.dnsSearch}`,
    users,
    ...composed,
  });
  const networkData = templates().render('network-data.yaml.njk', {
    host,
    mac: host.mac.toLowerCase(),
    ipv4: host.ipv4,
    prefixLength: stage.network.prefixLength,
    gateway: stage.network.gateway,
    dnsSearch: stage.network.dnsSearch,
    dnsServers: stage.network.dnsServers,
  });
  return { userData, networkData };
}

/** `<host>-<kind>-<12 hex of sha256>.yaml`: a new name for new content, so Proxmox never serves a stale snippet. */
export function snippetFileName(host: string, kind: 'user-data' | 'network-data', content: string): string {
  return `${host}-${kind}-${createHash('sha256').update(content).digest('hex').slice(0, 12)}.yaml`;
}
