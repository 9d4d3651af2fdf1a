// What a local-platform stack hands the local platform's CLI (tasks/local.ts) through
// Terraform: the `terraform_data` input of LocalVm / LocalDataDisk, JSON-encoded into the
// environment variable of the local-exec provisioner. The same objects come back as the
// resource's `output`, so create and destroy see exactly what was applied.

import type { LocalForward, Role, StageName } from '../../model/types';

export interface LocalDiskSpec {
  /** `<host>-data`, the data VM this emulates. */
  name: string;
  stage: StageName;
  /** The data VM's VMID ("9" + VMID). */
  vmid: number;
  disks: Array<{ label: string; size: number; interface: string }>;
}

export interface LocalVmSpec {
  name: string;
  stage: StageName;
  roles: Role[];
  vmid: number;
  mac: string;
  ipv4: string;
  prefixLength: number;
  gateway: string;
  /** The stage's subnet, e.g. "10.111.1.0/24"; its bridge lives in the router namespace. */
  cidr: string;
  dnsSearch: string;
  /** Data disks attached from `<host>-data`, in interface order. */
  dataDisks: Array<{ owner: string; label: string; mountpoint: string; readOnly: boolean; interface: string }>;
  /** Public keys authorized for root (operator key, stage control-node key). */
  authorizedKeys: string[];
  /**
   * Only on the passthrough host: the stage's emulated NAT (loopback ports → its 80/443),
   * started by `vm create` and stopped by `vm destroy`. Absent on every other host.
   */
  forward?: LocalForward;
}

/** Environment variables the local-exec provisioners set for `tasks/local.ts`. */
export const LOCAL_VM_ENV = 'HOMEPROD_VM';
export const LOCAL_DISK_ENV = 'HOMEPROD_DISK';
