// LocalVmSpec / LocalDiskSpec from the site, as the LocalVm / LocalDataDisk constructs build
// them (stacks/constructs/local-vm.ts), for tests and benchmarks that drive tasks/local.ts
// without Terraform.
import type { LocalDiskSpec, LocalVmSpec } from '../../tasks/lib/platform/local/spec';
import type { Host, LocalForward, Site } from '../../tasks/lib/model/types';

export function localVmSpec(site: Site, host: Host, forward?: LocalForward): LocalVmSpec {
  const net = site.stages[host.stage].network;
  if (host.ipv4 === null) throw new Error(`hosts.${host.name}: the local platform needs a static ipv4`);
  return {
    name: host.name,
    stage: host.stage,
    roles: host.roles,
    vmid: host.vmid,
    mac: host.mac,
    ipv4: host.ipv4,
    prefixLength: net.prefixLength,
    gateway: net.gateway,
    cidr: net.cidr,
    dnsSearch: net.dnsSearch,
    dataDisks: host.dataDisks.map((d) => ({ owner: host.dataVmName ?? '', label: d.label, mountpoint: d.mountpoint, readOnly: d.readOnly, interface: d.interface })),
    authorizedKeys: [],
    ...(forward && host.roles.includes('passthrough') ? { forward } : {}),
  };
}

export function localDiskSpec(host: Host): LocalDiskSpec | null {
  if (!host.dataVmName || host.dataDisks.length === 0) return null;
  return { name: host.dataVmName, stage: host.stage, vmid: host.dataVmid ?? 0, disks: host.dataDisks.map((d) => ({ label: d.label, size: d.size, interface: d.interface })) };
}

export function hostByName(site: Site, name: string): Host {
  const h = site.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`site has no host ${name}`);
  return h;
}
