// What a stage's stacks need from the cluster, as data: the content type of each datastore the
// site names, and the privileges on each ACL path. The privileges are those the Proxmox VE 8 API
// checks for the calls bpg/proxmox 0.78.2 makes for the three resources the stacks use
// (qemu-server's create_vm / update_vm / destroy_vm, pve-storage's download-url and content
// calls); disk imports and snippet uploads go over SSH instead (ssh-check.ts).
import type { Site, Stage } from '../../model/types';

export interface DatastoreNeed {
  /** The site field that names it, e.g. `datastores.snippets`. */
  field: string;
  datastore: string;
  /** The content type it must allow. */
  content: 'images' | 'iso' | 'snippets';
  why: string;
}

export interface PrivilegeNeed {
  path: string;
  privileges: string[];
}

// A bootable VM: created, configured (cpu, memory, disks, NIC, cloud-init drive, options),
// started and stopped, its guest agent asked for the address (VM.Monitor on Proxmox VE 8).
const BOOTABLE_VM = ['VM.Allocate', 'VM.Audit', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Monitor', 'VM.PowerMgmt'];
// A data VM is only created with its disks and protected; it is never started.
const DATA_VM = ['VM.Allocate', 'VM.Audit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Options'];

/** Each datastore of the stage that its hosts use, with the content type the stacks put there. */
export function datastoreNeeds(site: Site, stage: Stage): DatastoreNeed[] {
  const hosts = site.hosts.filter((h) => h.stage === stage.name);
  const ds = stage.datastores;
  const needs: DatastoreNeed[] = [
    { field: 'datastores.ssd', datastore: ds.ssd, content: 'images', why: 'boot disks and cloud-init drives' },
    { field: 'datastores.iso', datastore: ds.iso, content: 'iso', why: 'the downloaded cloud images' },
    { field: 'datastores.snippets', datastore: ds.snippets, content: 'snippets', why: 'the cloud-init user-data and network-data' },
  ];
  if (hosts.some((h) => h.dataDisks.some((d) => d.datastoreClass === 'hdd'))) {
    needs.push({ field: 'datastores.hdd', datastore: ds.hdd, content: 'images', why: 'data disks of class hdd' });
  }
  return needs;
}

/** The privileges the token needs, per ACL path (a VM's own path: its VMID). */
export function privilegeNeeds(site: Site, stage: Stage): PrivilegeNeed[] {
  const hosts = site.hosts.filter((h) => h.stage === stage.name);
  const ds = stage.datastores;
  const needs: PrivilegeNeed[] = [
    // download-url (or Sys.AccessNetwork on the node) and a VM's `startup` order need these on /.
    { path: '/', privileges: ['Sys.Audit', 'Sys.Modify'] },
    // A VM's NIC on a plain bridge is checked as the "localnetwork" SDN zone.
    { path: '/sdn/zones/localnetwork/vmbr0', privileges: ['SDN.Use'] },
    { path: `/storage/${ds.iso}`, privileges: ['Datastore.Allocate', 'Datastore.AllocateTemplate', 'Datastore.Audit'] },
    // The provider reads the snippet datastore's path (GET /storage/{id}) and deletes old snippets.
    { path: `/storage/${ds.snippets}`, privileges: ['Datastore.Allocate', 'Datastore.Audit'] },
  ];
  for (const need of datastoreNeeds(site, stage).filter((n) => n.content === 'images')) {
    needs.push({ path: `/storage/${need.datastore}`, privileges: ['Datastore.AllocateSpace', 'Datastore.Audit'] });
  }
  for (const host of hosts) {
    needs.push({ path: `/vms/${host.vmid}`, privileges: BOOTABLE_VM });
    if (host.dataVmid !== null) needs.push({ path: `/vms/${host.dataVmid}`, privileges: DATA_VM });
  }
  // One datastore may serve several purposes: one entry per path, privileges merged.
  const merged = new Map<string, Set<string>>();
  for (const need of needs) merged.set(need.path, new Set([...(merged.get(need.path) ?? []), ...need.privileges]));
  return [...merged].map(([path, privileges]) => ({ path, privileges: [...privileges].sort() }));
}

/** The images the stage's hosts boot from. */
export function imagesOf(site: Site, stage: Stage): Site['images'][string][] {
  const names = [...new Set(site.hosts.filter((h) => h.stage === stage.name).map((h) => h.image))];
  return names.flatMap((name) => (site.images[name] ? [site.images[name]!] : []));
}
