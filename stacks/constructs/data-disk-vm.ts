// A Proxmox "data VM": never started, it only owns disks that a bootable VM attaches, so the
// bootable VM can be destroyed and recreated without losing them. Protected in Proxmox and
// in Terraform; `allowDataDestroy` lifts both, for an explicit, confirmed data removal.
import { Construct } from 'constructs';
import { VirtualEnvironmentVm } from '../../.gen/providers/proxmox/virtual-environment-vm';
import type { Host, Stage } from '../../tasks/lib/model/types';
import { datastoreFor } from './datastore';
import { FACTS, type DataVmFacts, type HasFacts } from './facts';

/** What the bootable VM needs to attach one disk (tokens when read across stacks). */
export interface AttachableDisk {
  label: string;
  interface: string;
  datastoreId: string;
  pathInDatastore: string;
  fileFormat: string;
  size: number;
}

export interface DataDiskVmProps {
  host: Host;
  stage: Stage;
  nodeName: string;
  allowDataDestroy: boolean;
}

export const NEVER_START_TAG = 'never-start';

export class DataDiskVm extends Construct implements HasFacts {
  readonly vm: VirtualEnvironmentVm;
  readonly [FACTS]: DataVmFacts;
  readonly disks: AttachableDisk[];
  readonly owner: string;

  constructor(scope: Construct, id: string, props: DataDiskVmProps) {
    super(scope, id);
    const { host, stage } = props;
    if (!host.dataVmName || host.dataVmid === null) throw new Error(`hosts.${host.name}: has no data disks, so no data VM`);
    this.owner = host.name;
    this.vm = new VirtualEnvironmentVm(this, 'vm', {
      name: host.dataVmName,
      nodeName: props.nodeName,
      vmId: host.dataVmid,
      description: `Data disks of ${host.name}; never started (homeprod)`,
      started: false,
      onBoot: false,
      protection: !props.allowDataDestroy,
      tags: [stage.name, NEVER_START_TAG],
      scsiHardware: 'virtio-scsi-single',
      disk: host.dataDisks.map((d) => {
        const ds = datastoreFor(stage.datastores, d.datastoreClass);
        return {
          interface: d.interface,
          datastoreId: ds.datastoreId,
          fileFormat: ds.fileFormat,
          size: d.size,
          ssd: d.datastoreClass === 'ssd',
          iothread: true,
          discard: 'on',
          backup: true,
        };
      }),
      lifecycle: { preventDestroy: !props.allowDataDestroy },
    });
    const vm = this.vm;
    this[FACTS] = {
      kind: 'data',
      name: host.dataVmName,
      stage: stage.name,
      get vmid() { return vm.vmIdInput ?? -1; },
      get tags() { return vm.tagsInput ?? []; },
      get protected() { return vm.protectionInput === true && vm.lifecycle?.preventDestroy === true; },
      destroyAllowed: props.allowDataDestroy,
    };
    this.disks = host.dataDisks.map((d, i) => {
      const ref = this.vm.disk.get(i);
      return {
        label: d.label,
        interface: d.interface,
        datastoreId: ref.datastoreId,
        pathInDatastore: ref.pathInDatastore,
        fileFormat: ref.fileFormat,
        size: ref.size,
      };
    });
  }
}
