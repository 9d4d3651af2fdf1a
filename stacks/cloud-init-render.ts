// Renders a host's cloud-init user-data, network-data and first-boot data-disk script from
// templates/cloud-init/. Pure functions of the model: the CloudInit construct uploads what
// this returns, and the content hash in each snippet's file name comes from this text.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import type { DataDisk, Host, Stage, User } from '../tasks/lib/model/types';
import { mkdirPrivate, writeFileAtomic } from '../tasks/lib/shared/files';
import type { HostKeyPair } from '../tasks/lib/shared/host-keys';
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

/** A control node runs the stage's playbooks itself: Ansible must be there before the first configure. */
export function controlNodeTask(host: Host): CloudInitTask {
  return host.roles.includes('control-node') ? { packages: ['ansible-core', 'openssh-client', 'openssl'] } : {};
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

/** Who may log in as root, and which host key the VM presents. */
export interface CloudInitIdentity {
  /** root's authorized keys: the site's users and the stage's control node, as on the local platform. */
  rootKeys: string[];
  hostKey: HostKeyPair;
}

export function renderCloudInit(host: Host, stage: Stage, users: User[], tasks: CloudInitTask[], identity: CloudInitIdentity): RenderedCloudInit {
  const composed = composeTasks(tasks);
  const userData = templates().render('user-data.yaml.njk', {
    host,
    fqdn: `${host.name}.${stage.network.dnsSearch}`,
    users,
    rootKeys: identity.rootKeys,
    hostKey: identity.hostKey,
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

/**
 * Writes a snippet that holds a secret (0600, in a 0700 directory) for the provider to upload
 * from, unless it is there: its name carries its content's hash, and the provider replaces an
 * uploaded file whose source changed its modification time, so an existing one is never rewritten.
 */
export function writeSecretSnippet(dir: string, fileName: string, content: string): string {
  const path = join(dir, fileName);
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return path;
  mkdirPrivate(dir);
  writeFileAtomic(path, content, 0o600);
  return path;
}

/** `<host>-<kind>-<12 hex of sha256>.yaml`: a new name for new content, so Proxmox never serves a stale snippet. */
export function snippetFileName(host: string, kind: 'user-data' | 'network-data', content: string): string {
  return `${host}-${kind}-${createHash('sha256').update(content).digest('hex').slice(0, 12)}.yaml`;
}
