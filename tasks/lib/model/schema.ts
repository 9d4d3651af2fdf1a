// The site file's schema: every field described, defaults where one makes sense.
// `inventory/site.schema.json` is generated from this (golden-tested), so editors complete it.
import { z } from 'zod';
import { absolutePathProblem, mountpointProblem, nginxLineProblem, shown, sshKeyProblem } from './free-text';
import { PLATFORMS, ROLES, STAGES, STARTUP_PHASES } from './types';

const dnsLabel = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
export function isDnsName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => dnsLabel.test(label));
}
export function isIpv4(address: string): boolean {
  const parts = address.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p);
}

/** A string field whose value `problem` checks as a whole (free text with limits: free-text.ts). */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

/** The private IPv4 ranges (RFC 1918): a stage network is one of the site's own. */
export function isPrivateIpv4(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}
export const isLoopback = (address: string) => address.split('.')[0] === '127';

const dnsName = z.string().refine(isDnsName, { error: (i) => `${shown(i.input)} is not a valid DNS name` });
const ipv4 = z.string().refine(isIpv4, { error: (i) => `${shown(i.input)} is not an IPv4 address` });
const hostName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,40}[a-z0-9]$/, { error: (i) => `${shown(i.input)} is not a valid host name (lowercase letters, digits, dashes; 2–42 characters)` });
const hostOrAddress = z.string().refine((v) => isIpv4(v) || isDnsName(v), { error: (i) => `${shown(i.input)} is neither an IPv4 address nor a DNS name` });
const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, { error: (i) => `${shown(i.input)} is not a Proxmox node name (letters, digits, dashes)` });
const datastoreId = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, { error: (i) => `${shown(i.input)} is not a Proxmox storage id (a letter, then letters, digits, _ . -)` });
const loginName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: (i) => `${shown(i.input)} is not a login name (lowercase letters, digits, _ and -; at most 32)` });
/** An http(s) URL: other schemes (file:, ftp:) would reach this machine's files or elsewhere. */
const webUrl = (protocol: RegExp, what: string) => z.url({ protocol, error: (i) => `${shown(i.input)} is not ${what}` });
/** Accounts every VM has already; a site user of that name would take one over. */
const SYSTEM_USERS = ['root', 'daemon', 'bin', 'sys', 'sync', 'nobody', 'www-data', 'sshd', 'messagebus', 'systemd-network', 'systemd-resolve', 'systemd-timesync', '_apt'];

const MAX_BODY_BYTES = 1024 * 1024 ** 3;
function sizeBytes(size: string): number {
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[size.at(-1)!] ?? 1;
  return Number.parseInt(size, 10) * unit;
}

const suffix = z.number().int().min(1).max(254);
const range = z
  .strictObject({
    from: suffix.describe('First host suffix (last octet), inclusive.'),
    to: suffix.describe('Last host suffix, inclusive.'),
  })
  .refine((r) => r.from <= r.to, { error: '"from" must not be greater than "to"' });
const datastoreClass = z.enum(['hdd', 'ssd']);
const sizeGiB = z.number().int().min(1).max(65536);

export const ProxmoxSchema = z
  .strictObject({
    endpoint: z
      .string()
      .regex(/^https:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?\/?$/, { error: (i) => `${shown(i.input)} is not an https URL of the API like "https://pve.example.com:8006/"` })
      .default('https://proxmox.invalid:8006/')
      .describe('Proxmox API endpoint. The API token comes only from the environment (PROXMOX_VE_API_TOKEN).'),
    nodes: z.array(nodeName).min(1).default(['pve']).describe('Proxmox node names; VMs are placed on the first.'),
    caCert: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file (relative to this site file) of the CA that signed the API certificate, e.g. a copy of the node\'s /etc/pve/pve-root-ca.pem; trusted by doctor and the provider besides the system roots.'),
    insecure: z
      .boolean()
      .default(false)
      .describe('Deprecated: homeprod verifies the API certificate anyway (set caCert); only the --insecure flag of doctor, apply and up turns verification off.'),
    sshUser: loginName.default('root').describe('SSH user the provider logs in as on the node (agent keys) to upload snippets and import disks; not root: passwordless sudo for pvesm, qm and tee.'),
    sshNodes: z
      .array(
        z.strictObject({
          name: nodeName.describe('A node of `nodes`.'),
          address: hostOrAddress.describe('Address (IP or name) the provider and doctor reach the node\'s SSH at.'),
          port: z.number().int().min(1).max(65535).default(22).describe('SSH port of the node.'),
        }),
      )
      .default([])
      .describe('Where SSH reaches a node, when not the address of its first interface with a gateway (what the provider finds through the API).'),
  })
  .describe('Connection to the Proxmox cluster (platform "proxmox").');

export const DatastoresSchema = z
  .strictObject({
    hdd: datastoreId.default('local-lvm').describe('Datastore for the "hdd" class (bulk data disks).'),
    ssd: datastoreId.default('local-lvm').describe('Datastore for the "ssd" class (boot disks).'),
    iso: datastoreId.default('local').describe('Datastore holding downloaded cloud images.'),
    snippets: datastoreId.default('local').describe('Datastore with the "snippets" content type, for cloud-init files.'),
    block: z.array(datastoreId).default(['local-lvm']).describe('Datastores that are block storage (LVM, ZFS, RBD): data disks there are raw, elsewhere qcow2.'),
  })
  .describe('Proxmox datastores by purpose.');

export const NetworkSchema = z
  .strictObject({
    cidr: z
      .string()
      .regex(/^\d+\.\d+\.\d+\.0\/24$/, { error: (i) => `${shown(i.input)} is not a /24 network like "10.111.1.0/24"` })
      .refine((c) => isIpv4(c.split('/')[0]!), { error: (i) => `${shown(i.input)} is not a valid network address` })
      .refine((c) => isPrivateIpv4(c), { error: (i) => `${shown(i.input)} is not a private network (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)` })
      .describe('The stage subnet, a /24 (e.g. 10.111.1.0/24).'),
    gateway: ipv4.optional().describe('Default gateway; defaults to the first address of the subnet.'),
    dnsSearch: dnsName.optional().describe('DNS search domain; defaults to the site domain.'),
    dnsServers: z.array(ipv4).optional().describe('DNS servers; default the gateway.'),
    reserved: range.default({ from: 1, to: 9 }).describe('Suffixes reserved for network gear.'),
    static: range.default({ from: 10, to: 199 }).describe('Suffixes hosts may use as static addresses.'),
    dhcp: range.default({ from: 200, to: 254 }).describe('Suffixes the DHCP server hands out.'),
  })
  .describe('Address plan of the stage.');

export const StageSchema = z
  .strictObject({
    platform: z.enum(PLATFORMS).default('local').describe('"local" emulates the cluster on this machine with systemd-nspawn; "proxmox" uses the real cluster.'),
    proxmox: ProxmoxSchema.prefault({}),
    datastores: DatastoresSchema.prefault({}),
    network: NetworkSchema,
    vmidPrefix: z.number().int().min(1).max(8).describe('VMIDs of this stage are prefix followed by the 3-digit host suffix (prod 4 → 4010).'),
    state: z
      .strictObject({
        backend: z.enum(['local', 'pg']).default('local').describe('"local": state files in .state/; "pg": PostgreSQL, credentials from the PG* environment.'),
        schemaPrefix: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,30}$/, { error: (i) => `${shown(i.input)} is not a schema name prefix (lowercase letters, digits, _; at most 31)` })
          .default('homeprod_')
          .describe('pg backend: schema name prefix; one schema per stack. With the longest stack name it fits PostgreSQL\'s 63 bytes.'),
      })
      .prefault({})
      .describe('Where Terraform keeps the state of this stage.'),
    tls: z
      .strictObject({
        mode: z.enum(['local-ca', 'acme', 'files']).default('local-ca').describe('"local-ca": a CA on the control node; "acme": certbot on the certificate host; "files": certificates you provide.'),
        acmeDirectory: webUrl(/^https$/, 'an https URL of an ACME directory').optional().describe('ACME directory URL (mode "acme"), e.g. Let\'s Encrypt\'s; on the local platform, without one, the stage\'s own pebble.'),
        acmeEmail: z.string().email().optional().describe('ACME account e-mail (mode "acme").'),
        filesDir: checked(absolutePathProblem).optional().describe('Mode "files": directory on the control node with <certificate>.crt and <certificate>.key (the certificate name defaults to the service\'s first hostname).'),
        allowTls12: z.boolean().default(false).describe('Also accept TLS 1.2 on the stage proxy (TLS 1.3 only by default).'),
      })
      .prefault({})
      .describe('How the stage proxy gets its certificates.'),
    forward: z
      .strictObject({
        address: ipv4.default('127.0.0.1').describe('Loopback address of the emulated NAT port forward (127.0.0.0/8 unless beyondLoopback).'),
        beyondLoopback: z
          .boolean()
          .default(false)
          .describe('Let `address` be an address of this machine other than loopback: the rehearsal site is then reachable from your network.'),
        httpPort: z.number().int().min(1).max(65535).default(8080).describe('Loopback port forwarded to the passthrough\'s port 80.'),
        httpsPort: z.number().int().min(1).max(65535).default(8443).describe('Loopback port forwarded to the passthrough\'s port 443.'),
      })
      .superRefine((forward, ctx) => {
        if (!forward.beyondLoopback && !isLoopback(forward.address))
          ctx.addIssue({ code: 'custom', path: ['address'], message: `${shown(forward.address)} is not a loopback address (127.0.0.0/8); set forward.beyondLoopback: true to expose the site beyond this machine` });
      })
      .prefault({})
      .describe('Local platform only: the NAT port forward, emulated on loopback.'),
  })
  .describe('One stage (lab or prod) of the site.');

export const DataDiskSchema = z.strictObject({
  label: z.string().regex(/^[a-z0-9][a-z0-9-]{0,15}$/, { error: 'must be 1–16 lowercase letters, digits or dashes (it becomes the filesystem label)' }).describe('Filesystem label; the first-boot script formats and labels a blank disk with it.'),
  mountpoint: checked(mountpointProblem).describe('Where the disk is mounted (by UUID).'),
  size: sizeGiB.describe('Size in GiB.'),
  readOnly: z.boolean().default(false).describe('Mount read-only.'),
  datastore: datastoreClass.default('hdd').describe('Datastore class of the disk.'),
});

export const HostSchema = z.strictObject({
  name: hostName.describe('VM name; its stacks are <name>-vm and <name>-data-vm.'),
  stage: z.enum(STAGES).describe('Stage the host belongs to.'),
  roles: z.array(z.enum(ROLES)).default([]).describe('What the host does; roles pick its playbooks and inventory groups.'),
  cpu: z.number().int().min(1).max(64).default(2).describe('Virtual CPU cores.'),
  memory: z.number().int().min(256).max(262144).default(2048).describe('Memory in MiB.'),
  bootDisk: z
    .strictObject({
      size: sizeGiB.default(16).describe('Boot disk size in GiB.'),
      datastore: datastoreClass.default('ssd').describe('Datastore class of the boot disk.'),
    })
    .prefault({})
    .describe('The boot disk, imported from the cloud image.'),
  image: z.string().default('debian-12').describe('Key of the cloud image under `images`.'),
  startup: z.enum(STARTUP_PHASES).default('internal').describe('Startup phase; sets boot order (network first). "never": not started at boot.'),
  suffix: z.number().int().min(1).max(999).describe('Host suffix: the last octet of its address and the last 3 digits of its VMID.'),
  dhcp: z.boolean().default(false).describe('Take the address from DHCP instead of subnet + suffix.'),
  mac: z
    .string()
    .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, { error: (i) => `${shown(i.input)} is not a MAC address like "02:00:00:00:00:01"` })
    .refine((mac) => parseInt(mac.slice(0, 2), 16) % 2 === 0 && mac !== '00:00:00:00:00:00', { error: (i) => `${shown(i.input)} is not a unicast MAC address (the first octet is even, not all zero)` })
    .optional()
    .describe('Fixed MAC address; by default a stable locally administered one is derived from the site and host name.'),
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: (i) => `${shown(i.input)} is not a tag (lowercase letters, digits, _ and -; at most 63)` })).default([]).describe('Extra Proxmox tags.'),
  dataDisks: z.array(DataDiskSchema).default([]).describe('Disks owned by the host\'s data VM; they survive the VM.'),
});

export const UpstreamSchema = z
  .strictObject({
    host: hostName.optional().describe('A host of the site (its address is used).'),
    address: ipv4.optional().describe('Or a plain IPv4 address.'),
    port: z.number().int().min(1).max(65535).describe('Upstream port.'),
  })
  .describe('Where the stage proxy sends the service\'s requests.');

export const ServiceSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: (i) => `${shown(i.input)} is not a valid service name (lowercase, digits, dashes; at most 63)` }).describe('Service name.'),
  stage: z.enum(STAGES).describe('Stage proxy that serves it.'),
  hostnames: z.array(dnsName).min(1).describe('Names the service answers to; lab names live under lab.<domain>.'),
  upstream: UpstreamSchema,
  websocket: z.boolean().default(false).describe('Pass websocket upgrades through.'),
  maxBodySize: z
    .string()
    .regex(/^\d{1,13}[kmg]?$/, { error: (i) => `${shown(i.input)} is not an nginx size like "10m"` })
    .refine((size) => sizeBytes(size) <= MAX_BODY_BYTES, { error: (i) => `${shown(i.input)} is more than 1024g` })
    .default('10m')
    .describe('client_max_body_size ("0": no limit; at most 1024g).'),
  extraLocationLines: z
    .array(checked(nginxLineProblem))
    .max(64)
    .default([])
    .describe(
      'Extra nginx directives for the service\'s location block, one whole directive per line ending in ";" (no blocks, comments or template syntax). Directives that reach files, listening, TLS or routing (include, root, alias, ssl_*, *_pass, access_log, ...) are refused: the service\'s typed fields set those.',
    ),
  certificate: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{0,127}$/, { error: (i) => `${shown(i.input)} is not a certificate name (lowercase, digits, dots, dashes; at most 128)` })
    .optional()
    .describe(
      'The certificate that holds the service\'s hostnames. Services of one stage that name the same certificate share it and one TLS server block on the stage proxy, which keeps nginx fast with thousands of services and needs fewer ACME orders. Default: a certificate of its own, named by its first hostname.',
    ),
});

export const UserSchema = z.strictObject({
  name: loginName
    .refine((name) => !SYSTEM_USERS.includes(name), { error: (i) => `"${String(i.input)}" is a system account of the VMs; pick another login name` })
    .describe('Login name.'),
  sshKeys: z.array(checked(sshKeyProblem)).default([]).describe('Authorized SSH public keys, each one whole line: type, key, optional comment.'),
  sudo: z.boolean().default(true).describe('Passwordless sudo.'),
});

export const ImageSchema = z.strictObject({
  url: webUrl(/^https?$/, 'an http(s) URL').describe('Download URL of the cloud image.'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 hex digits' }).describe('SHA-256 of the image file.'),
  fileName: z.string().regex(/^[\w.-]+\.(img|qcow2|raw)$/).describe('File name in the ISO datastore.'),
});

export const SiteFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON schema reference for editors.'),
    imports: z.array(z.string()).default([]).describe('Further YAML files (relative to this one) whose hosts, services, users and images are added to the site.'),
    domain: dnsName
      .refine((d) => d.includes('.') && !/^\d+$/.test(d.split('.').at(-1)!), { error: (i) => `${shown(i.input)} is not a domain of two or more labels like "example.com"` })
      .describe('The site\'s public domain; lab services live under lab.<domain>.'),
    stages: z.strictObject({ lab: StageSchema, prod: StageSchema }).describe('The two stages.'),
    users: z.array(UserSchema).default([]).describe('Users created on every VM.'),
    images: z
      .record(z.string(), ImageSchema)
      .superRefine((images, ctx) => {
        for (const key of Object.keys(images))
          if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `${shown(key)} is not an image key (lowercase letters, digits, . _ -; at most 63)` });
      }).default({}).describe('Cloud images by key.'),
    hosts: z.array(HostSchema).default([]).describe('Every VM of both stages.'),
    services: z.array(ServiceSchema).default([]).describe('Every service behind the stage proxies.'),
  })
  .describe('The homeprod site: one typed description of the whole homelab.');

/** What an imported file may contain. */
export const ImportFileSchema = SiteFileSchema.pick({ users: true, images: true, hosts: true, services: true }).partial();

export type SiteFile = z.output<typeof SiteFileSchema>;
export type HostFile = z.output<typeof HostSchema>;
export type ServiceFile = z.output<typeof ServiceSchema>;
