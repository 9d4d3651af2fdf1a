// The normalized site: what every layer (stacks, inventory, templates, tasks) reads.
// Produced only by `loadSite()` (parse → normalize → cross-field rules); nothing
// downstream re-reads the YAML.

export const STAGES = ['lab', 'prod'] as const;
export type StageName = (typeof STAGES)[number];

export const ROLES = ['control-node', 'passthrough', 'stage-proxy', 'certificate-host', 'application'] as const;
export type Role = (typeof ROLES)[number];

export const PLATFORMS = ['local', 'proxmox'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** What the site's rules need to know of a platform (the platforms themselves: tasks/lib/platform/). */
export interface PlatformTraits {
  /** A DHCP server can give hosts their address. */
  dhcp: boolean;
  /** Its stages' networks are separate, so lab and prod may use the same subnet. */
  stagesMayShareSubnet: boolean;
}

export const PLATFORM_TRAITS: Record<Platform, PlatformTraits> = {
  // One machine emulates every stage network, with no DHCP server on any of them.
  local: { dhcp: false, stagesMayShareSubnet: false },
  proxmox: { dhcp: true, stagesMayShareSubnet: true },
};

export const STARTUP_PHASES = ['network', 'infrastructure', 'desktop', 'internal', 'external', 'never'] as const;
export type StartupPhase = (typeof STARTUP_PHASES)[number];

export type DatastoreClass = 'hdd' | 'ssd';
export type TlsMode = 'local-ca' | 'acme' | 'files';

export interface AddressRange {
  /** First host suffix (last octet) of the range, inclusive. */
  from: number;
  /** Last host suffix, inclusive. */
  to: number;
}

export interface StageNetwork {
  /** e.g. "10.111.1.0/24" */
  cidr: string;
  /** e.g. "10.111.1.0" */
  base: string;
  prefixLength: number;
  gateway: string;
  dnsSearch: string;
  dnsServers: string[];
  reserved: AddressRange;
  static: AddressRange;
  dhcp: AddressRange;
}

export interface ProxmoxConnection {
  endpoint: string;
  nodes: string[];
  /** Absolute path of the PEM of the CA that signed the API certificate (besides the system roots). */
  caCert?: string;
  /** Deprecated: reported by doctor; only the --insecure flag turns verification off. */
  insecure: boolean;
  sshUser: string;
  /** SSH address overrides per node (the provider's ssh.node blocks). */
  sshNodes: Array<{ name: string; address: string; port: number }>;
}

export interface Datastores {
  hdd: string;
  ssd: string;
  iso: string;
  snippets: string;
  /** Datastore ids that are block storage (lvm, zfs, rbd): data disks there are raw. */
  block: string[];
}

export type StateBackend = { backend: 'local' } | { backend: 'pg'; schemaPrefix: string };

export interface LocalForward {
  /** Loopback address the emulated NAT listens on (root namespace). */
  address: string;
  httpPort: number;
  httpsPort: number;
}

export interface StageTls {
  mode: TlsMode;
  /** Only with mode "acme": the directory URL; on the local platform pebble's. */
  acmeDirectory?: string;
  acmeEmail?: string;
  /** Only with mode "files": directory (on the control node) with <certificate>.crt/.key. */
  filesDir?: string;
  /** Allow TLS 1.2 besides 1.3 on the stage proxy. */
  allowTls12: boolean;
}

export interface Stage {
  name: StageName;
  platform: Platform;
  proxmox: ProxmoxConnection;
  datastores: Datastores;
  network: StageNetwork;
  /** One digit: VMIDs of this stage are prefix * 1000 + suffix (prod 4001…). */
  vmidPrefix: number;
  /** Inclusive VMID range of the stage's bootable VMs. */
  vmidRange: { from: number; to: number };
  state: StateBackend;
  tls: StageTls;
  /** Emulated NAT on the local platform (only meaningful for the stage with the passthrough). */
  forward: LocalForward;
}

export interface User {
  name: string;
  sshKeys: string[];
  sudo: boolean;
}

export interface CloudImage {
  name: string;
  url: string;
  sha256: string;
  fileName: string;
}

export interface DataDisk {
  label: string;
  mountpoint: string;
  /** GiB */
  size: number;
  readOnly: boolean;
  datastoreClass: DatastoreClass;
  /** scsi1.. in declaration order */
  interface: string;
}

export interface Host {
  name: string;
  stage: StageName;
  roles: Role[];
  cpu: number;
  /** MiB */
  memory: number;
  bootDisk: { size: number; datastoreClass: DatastoreClass };
  image: string;
  startup: StartupPhase;
  /** Boot order from the phase (network 1000 … external 5000); null for "never". */
  bootOrder: number | null;
  onBoot: boolean;
  /** Static address; null when the host takes DHCP. */
  ipv4: string | null;
  ipSuffix: number | null;
  vmid: number;
  mac: string;
  tags: string[];
  dataDisks: DataDisk[];
  /** `<name>-data` when the host has data disks. */
  dataVmName: string | null;
  dataVmid: number | null;
  stackName: string;
  dataStackName: string | null;
}

export interface Upstream {
  /** Set when the upstream is a host of the site. */
  host: string | null;
  address: string;
  port: number;
}

export interface Service {
  name: string;
  stage: StageName;
  hostnames: string[];
  upstream: Upstream;
  websocket: boolean;
  /** nginx size syntax, e.g. "10m" */
  maxBodySize: string;
  extraLocationLines: string[];
  /** Name of the certificate holding its hostnames; by default its first hostname. */
  certificate: string;
}

export interface Site {
  /** Absolute path of the site file this came from. */
  file: string;
  domain: string;
  /** `lab.<domain>`: lab hostnames live under it, and the passthrough routes by it. */
  labDomain: string;
  stages: Record<StageName, Stage>;
  users: User[];
  images: Record<string, CloudImage>;
  hosts: Host[];
  services: Service[];
}

/** The one object every VM stack outputs, on every platform (output name `host`). */
export interface HostOutput {
  name: string;
  stage: StageName;
  roles: Role[];
  ipv4: string;
  vmid: number;
  mac: string;
  data_disks: Array<{ label: string; mountpoint: string; read_only: boolean; interface: string }>;
}
