// The site file's schema: every field described, defaults where one makes sense.
// `inventory/site.schema.json` is generated from this (golden-tested), so editors complete it.
import { z } from 'zod';
import { PLATFORMS, ROLES, STAGES, STARTUP_PHASES } from './types';

const dnsLabel = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
export function isDnsName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => dnsLabel.test(label));
}
export function isIpv4(address: string): boolean {
  const parts = address.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p);
}

const dnsName = z.string().refine(isDnsName, { error: (i) => `${JSON.stringify(i.input)} is not a valid DNS name` });
const ipv4 = z.string().refine(isIpv4, { error: (i) => `${JSON.stringify(i.input)} is not an IPv4 address` });
const hostName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,40}[a-z0-9]$/, { error: (i) => `${JSON.stringify(i.input)} is not a valid host name (lowercase letters, digits, dashes; 2–42 characters)` });
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
    endpoint: z.string().default('https://proxmox.invalid:8006/').describe('Proxmox API endpoint. The API token comes only from the environment (PROXMOX_VE_API_TOKEN).'),
    nodes: z.array(z.string().min(1)).min(1).default(['pve']).describe('Proxmox node names; VMs are placed on the first.'),
    caCert: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file (relative to this site file) of the CA that signed the API certificate, e.g. a copy of the node\'s /etc/pve/pve-root-ca.pem; trusted by doctor and the provider besides the system roots.'),
    insecure: z
      .boolean()
      .default(false)
      .describe('Deprecated: homeprod verifies the API certificate anyway (set caCert); only the --insecure flag of doctor, apply and up turns verification off.'),
    sshUser: z.string().default('root').describe('SSH user the provider logs in as on the node (agent keys) to upload snippets and import disks; not root: passwordless sudo for pvesm, qm and tee.'),
    sshNodes: z
      .array(
        z.strictObject({
          name: z.string().min(1).describe('A node of `nodes`.'),
          address: z.string().min(1).describe('Address (IP or name) the provider and doctor reach the node\'s SSH at.'),
          port: z.number().int().min(1).max(65535).default(22).describe('SSH port of the node.'),
        }),
      )
      .default([])
      .describe('Where SSH reaches a node, when not the address of its first interface with a gateway (what the provider finds through the API).'),
  })
  .describe('Connection to the Proxmox cluster (platform "proxmox").');

export const DatastoresSchema = z
  .strictObject({
    hdd: z.string().default('local-lvm').describe('Datastore for the "hdd" class (bulk data disks).'),
    ssd: z.string().default('local-lvm').describe('Datastore for the "ssd" class (boot disks).'),
    iso: z.string().default('local').describe('Datastore holding downloaded cloud images.'),
    snippets: z.string().default('local').describe('Datastore with the "snippets" content type, for cloud-init files.'),
    block: z.array(z.string()).default(['local-lvm']).describe('Datastores that are block storage (LVM, ZFS, RBD): data disks there are raw, elsewhere qcow2.'),
  })
  .describe('Proxmox datastores by purpose.');

export const NetworkSchema = z
  .strictObject({
    cidr: z
      .string()
      .regex(/^\d+\.\d+\.\d+\.0\/24$/, { error: (i) => `${JSON.stringify(i.input)} is not a /24 network like "10.111.1.0/24"` })
      .refine((c) => isIpv4(c.split('/')[0]!), { error: (i) => `${JSON.stringify(i.input)} is not a valid network address` })
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
        schemaPrefix: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('homeprod_').describe('pg backend: schema name prefix; one schema per stack.'),
      })
      .prefault({})
      .describe('Where Terraform keeps the state of this stage.'),
    tls: z
      .strictObject({
        mode: z.enum(['local-ca', 'acme', 'files']).default('local-ca').describe('"local-ca": a CA on the control node; "acme": certbot on the certificate host; "files": certificates you provide.'),
        acmeDirectory: z.string().url().optional().describe('ACME directory URL (mode "acme"), e.g. Let\'s Encrypt\'s; on the local platform, without one, the stage\'s own pebble.'),
        acmeEmail: z.string().email().optional().describe('ACME account e-mail (mode "acme").'),
        filesDir: z.string().optional().describe('Mode "files": directory on the control node with <certificate>.crt and <certificate>.key (the certificate name defaults to the service\'s first hostname).'),
        allowTls12: z.boolean().default(false).describe('Also accept TLS 1.2 on the stage proxy (TLS 1.3 only by default).'),
      })
      .prefault({})
      .describe('How the stage proxy gets its certificates.'),
    forward: z
      .strictObject({
        address: ipv4.default('127.0.0.1').describe('Loopback address of the emulated NAT port forward.'),
        httpPort: z.number().int().min(1).max(65535).default(8080).describe('Loopback port forwarded to the passthrough\'s port 80.'),
        httpsPort: z.number().int().min(1).max(65535).default(8443).describe('Loopback port forwarded to the passthrough\'s port 443.'),
      })
      .prefault({})
      .describe('Local platform only: the NAT port forward, emulated on loopback.'),
  })
  .describe('One stage (lab or prod) of the site.');

export const DataDiskSchema = z.strictObject({
  label: z.string().regex(/^[a-z0-9][a-z0-9-]{0,15}$/, { error: 'must be 1–16 lowercase letters, digits or dashes (it becomes the filesystem label)' }).describe('Filesystem label; the first-boot script formats and labels a blank disk with it.'),
  mountpoint: z.string().regex(/^\/[^\s]*[^/\s]$/, { error: (i) => `${JSON.stringify(i.input)} is not an absolute path` }).describe('Where the disk is mounted (by UUID).'),
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
    .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, { error: (i) => `${JSON.stringify(i.input)} is not a MAC address like "02:00:00:00:00:01"` })
    .optional()
    .describe('Fixed MAC address; by default a stable locally administered one is derived from the site and host name.'),
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/)).default([]).describe('Extra Proxmox tags.'),
  dataDisks: z.array(DataDiskSchema).default([]).describe('Disks owned by the host\'s data VM; they survive the VM.'),
});

export const UpstreamSchema = z
  .strictObject({
    host: z.string().optional().describe('A host of the site (its address is used).'),
    address: ipv4.optional().describe('Or a plain IPv4 address.'),
    port: z.number().int().min(1).max(65535).describe('Upstream port.'),
  })
  .describe('Where the stage proxy sends the service\'s requests.');

export const ServiceSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, { error: (i) => `${JSON.stringify(i.input)} is not a valid service name (lowercase, digits, dashes)` }).describe('Service name.'),
  stage: z.enum(STAGES).describe('Stage proxy that serves it.'),
  hostnames: z.array(dnsName).min(1).describe('Names the service answers to; lab names live under lab.<domain>.'),
  upstream: UpstreamSchema,
  websocket: z.boolean().default(false).describe('Pass websocket upgrades through.'),
  maxBodySize: z.string().regex(/^\d+[kmg]?$/, { error: (i) => `${JSON.stringify(i.input)} is not an nginx size like "10m"` }).default('10m').describe('client_max_body_size.'),
  extraLocationLines: z.array(z.string()).default([]).describe('Extra nginx lines for the service\'s location block.'),
  certificate: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]*$/, { error: (i) => `${JSON.stringify(i.input)} is not a certificate name (lowercase, digits, dots, dashes)` })
    .optional()
    .describe(
      'The certificate that holds the service\'s hostnames. Services of one stage that name the same certificate share it and one TLS server block on the stage proxy, which keeps nginx fast with thousands of services and needs fewer ACME orders. Default: a certificate of its own, named by its first hostname.',
    ),
});

export const UserSchema = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_-]*$/).describe('Login name.'),
  sshKeys: z.array(z.string().regex(/^(ssh-|ecdsa-)/, { error: 'is not an SSH public key' })).default([]).describe('Authorized SSH public keys.'),
  sudo: z.boolean().default(true).describe('Passwordless sudo.'),
});

export const ImageSchema = z.strictObject({
  url: z.string().url().describe('Download URL of the cloud image.'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 hex digits' }).describe('SHA-256 of the image file.'),
  fileName: z.string().regex(/^[\w.-]+\.(img|qcow2|raw)$/).describe('File name in the ISO datastore.'),
});

export const SiteFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON schema reference for editors.'),
    imports: z.array(z.string()).default([]).describe('Further YAML files (relative to this one) whose hosts, services, users and images are added to the site.'),
    domain: dnsName.describe('The site\'s public domain; lab services live under lab.<domain>.'),
    stages: z.strictObject({ lab: StageSchema, prod: StageSchema }).describe('The two stages.'),
    users: z.array(UserSchema).default([]).describe('Users created on every VM.'),
    images: z.record(z.string(), ImageSchema).default({}).describe('Cloud images by key.'),
    hosts: z.array(HostSchema).default([]).describe('Every VM of both stages.'),
    services: z.array(ServiceSchema).default([]).describe('Every service behind the stage proxies.'),
  })
  .describe('The homeprod site: one typed description of the whole homelab.');

/** What an imported file may contain. */
export const ImportFileSchema = SiteFileSchema.pick({ users: true, images: true, hosts: true, services: true }).partial();

export type SiteFile = z.output<typeof SiteFileSchema>;
export type HostFile = z.output<typeof HostSchema>;
export type ServiceFile = z.output<typeof ServiceSchema>;
