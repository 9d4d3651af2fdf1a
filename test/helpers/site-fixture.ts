// A normalized Pegasus site built directly against types.ts, for stack tests and the synth
// benchmark (independent of the YAML loader). `manyHostsSite(n)` scales it to n application VMs.
import type { DataDisk, Host, Role, Site, Stage, StageName, StartupPhase } from '../../tasks/lib/model/types';

const BOOT_ORDER: Record<StartupPhase, number | null> = {
  network: 1000, infrastructure: 2000, desktop: 3000, internal: 4000, external: 5000, never: null,
};

function stage(name: StageName, third: number, vmidPrefix: number): Stage {
  const base = `10.111.${third}.0`;
  return {
    name,
    platform: 'proxmox',
    proxmox: { endpoint: 'https://pve.pegasuspad.com:8006/', nodes: ['pve1'], insecure: false, sshUser: 'terraform', sshNodes: [] },
    datastores: { hdd: 'tank-hdd', ssd: 'local-zfs', iso: 'local', snippets: 'local', block: ['local-zfs'] },
    network: {
      cidr: `${base}/24`, base, prefixLength: 24, gateway: `10.111.${third}.1`,
      dnsSearch: name === 'lab' ? 'lab.pegasuspad.com' : 'pegasuspad.com', dnsServers: [`10.111.${third}.1`],
      reserved: { from: 1, to: 9 }, static: { from: 10, to: 199 }, dhcp: { from: 200, to: 250 },
    },
    vmidPrefix,
    vmidRange: { from: vmidPrefix * 1000 + 1, to: vmidPrefix * 1000 + 999 },
    state: { backend: 'local' },
    tls: { mode: 'local-ca', allowTls12: false },
    forward: { address: '127.0.0.1', httpPort: 8080, httpsPort: 8443 },
  };
}

interface HostSketch {
  name: string;
  stage: StageName;
  roles: Role[];
  suffix: number;
  startup: StartupPhase;
  cpu?: number;
  memory?: number;
  disks?: Array<Pick<DataDisk, 'label' | 'mountpoint' | 'size' | 'readOnly' | 'datastoreClass'>>;
}

function host(site: Pick<Site, 'stages'>, h: HostSketch): Host {
  const st = site.stages[h.stage];
  const vmid = st.vmidPrefix * 1000 + h.suffix;
  const dataDisks: DataDisk[] = (h.disks ?? []).map((d, i) => ({ ...d, interface: `scsi${i + 1}` }));
  const hasData = dataDisks.length > 0;
  const bootOrder = BOOT_ORDER[h.startup];
  return {
    name: h.name,
    stage: h.stage,
    roles: h.roles,
    cpu: h.cpu ?? 2,
    memory: h.memory ?? 2048,
    bootDisk: { size: 16, datastoreClass: 'ssd' },
    image: 'debian-12',
    startup: h.startup,
    bootOrder,
    onBoot: bootOrder !== null,
    ipv4: `10.111.${st.network.base.split('.')[2]}.${h.suffix}`,
    ipSuffix: h.suffix,
    vmid,
    mac: `BC:24:11:${String(st.vmidPrefix).padStart(2, '0')}:${String(Math.floor(h.suffix / 100)).padStart(2, '0')}:${String(h.suffix % 100).padStart(2, '0')}`,
    tags: [],
    dataDisks,
    dataVmName: hasData ? `${h.name}-data` : null,
    dataVmid: hasData ? Number(`9${vmid}`) : null,
    stackName: `${h.name}-vm`,
    dataStackName: hasData ? `${h.name}-data-vm` : null,
  };
}

export function pegasusSite(): Site {
  const stages = { prod: stage('prod', 1, 4), lab: stage('lab', 2, 5) };
  const s = { stages };
  const sketches: HostSketch[] = [
    { name: 'prod-proxy-passthrough', stage: 'prod', roles: ['passthrough'], suffix: 10, startup: 'network' },
    { name: 'prod-proxy', stage: 'prod', roles: ['stage-proxy'], suffix: 11, startup: 'infrastructure' },
    { name: 'prod-ansible', stage: 'prod', roles: ['control-node'], suffix: 12, startup: 'internal',
      disks: [{ label: 'ansible', mountpoint: '/srv/ansible', size: 4, readOnly: false, datastoreClass: 'ssd' }] },
    { name: 'prod-demo', stage: 'prod', roles: ['application'], suffix: 20, startup: 'external' },
    { name: 'lab-ansible', stage: 'lab', roles: ['control-node'], suffix: 12, startup: 'internal',
      disks: [{ label: 'ansible', mountpoint: '/srv/ansible', size: 4, readOnly: false, datastoreClass: 'ssd' }] },
    { name: 'lab-proxy', stage: 'lab', roles: ['stage-proxy'], suffix: 11, startup: 'infrastructure' },
    { name: 'lab-certbot', stage: 'lab', roles: ['certificate-host'], suffix: 13, startup: 'internal',
      disks: [
        { label: 'letsencrypt', mountpoint: '/etc/letsencrypt', size: 1, readOnly: false, datastoreClass: 'ssd' },
        { label: 'archive', mountpoint: '/srv/archive', size: 20, readOnly: true, datastoreClass: 'hdd' },
      ] },
    { name: 'lab-demo', stage: 'lab', roles: ['application'], suffix: 20, startup: 'external' },
  ];
  return {
    file: '/work/inventory/site.yaml',
    domain: 'pegasuspad.com',
    labDomain: 'lab.pegasuspad.com',
    stages,
    users: [
      { name: 'ops', sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpsOpsOpsOpsOpsOpsOpsOpsOpsOpsOpsOpsOpsOps ops@pegasus'], sudo: true },
      { name: 'ansible', sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAnsibleAnsibleAnsibleAnsibleAnsibleAnsib ansible@control'], sudo: true },
    ],
    images: {
      'debian-12': {
        name: 'debian-12',
        url: 'https://cloud.debian.org/images/cloud/bookworm/20250428-2096/debian-12-genericcloud-amd64-20250428-2096.qcow2',
        sha256: '5f3d6b8e1a2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e',
        fileName: 'debian-12-genericcloud-amd64-20250428-2096.img',
      },
    },
    hosts: sketches.map((h) => host(s, h)),
    services: [],
  };
}

/** The Pegasus site plus enough lab application hosts (one data disk each) to reach `total` VMs. */
export function manyHostsSite(total: number): Site {
  const site = pegasusSite();
  const vmCount = () => site.hosts.reduce((n, h) => n + 1 + (h.dataStackName ? 1 : 0), 0);
  let i = 0;
  while (vmCount() < total) {
    const suffix = 100 + i;
    const withData = vmCount() + 2 <= total;
    site.hosts.push(host(site, {
      name: `lab-app${i}`, stage: 'lab', roles: ['application'], suffix, startup: 'external',
      disks: withData ? [{ label: 'data', mountpoint: '/srv/data', size: 2, readOnly: false, datastoreClass: 'hdd' }] : [],
    }));
    i += 1;
  }
  return site;
}
