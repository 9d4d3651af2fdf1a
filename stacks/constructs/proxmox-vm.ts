// A bootable Proxmox VM as the seed builds them: cloud image imported on scsi0, virtio-scsi-
// single, host CPU, qemu agent, virtio NIC on vmbr0 with the model's MAC, serial console,
// startup order from the phase, cloud-init from snippets, and the data VM's disks attached
// by path_in_datastore on scsi1..N.
import { Construct } from 'constructs';
import { VirtualEnvironmentVm } from '../../.gen/providers/proxmox/virtual-environment-vm';
import type { Host, Stage } from '../../tasks/lib/model/types';
import { dataDiskSerial } from '../cloud-init-render';
import type { AttachableDisk } from './data-disk-vm';
import { datastoreFor } from './datastore';
import { FACTS, type HasFacts, type VmFacts } from './facts';

export interface ProxmoxVmProps {
  host: Host;
  stage: Stage;
  nodeName: string;
  bootImageFileId: string;
  userDataFileId: string;
  networkDataFileId: string;
  /** The data VM's disks (cross-stack references), attached in interface order. */
  dataDisks: AttachableDisk[];
  /** The data VM they come from, e.g. `lab-ansible-data`. */
  dataVmName: string | null;
}

/** Tags every VM carries: its stage first, then roles, then the startup phase. */
export function vmTags(host: Host): string[] {
  return [...new Set([host.stage, ...host.roles, host.startup, ...host.tags])];
}

export class ProxmoxVm extends Construct implements HasFacts {
  readonly vm: VirtualEnvironmentVm;
  readonly [FACTS]: VmFacts;

  constructor(scope: Construct, id: string, props: ProxmoxVmProps) {
    super(scope, id);
    const { host, stage } = props;
    const boot = datastoreFor(stage.datastores, host.bootDisk.datastoreClass);
    const tags = vmTags(host);
    this.vm = new VirtualEnvironmentVm(this, 'vm', {
      name: host.name,
      nodeName: props.nodeName,
      vmId: host.vmid,
      description: `${host.roles.join(', ')} (${host.stage}); managed by homeprod`,
      tags,
      onBoot: host.onBoot,
      started: host.startup !== 'never',
      startup: host.bootOrder === null ? undefined : { order: host.bootOrder },
      agent: { enabled: true, trim: true },
      cpu: { cores: host.cpu, type: 'host' },
      memory: { dedicated: host.memory },
      scsiHardware: 'virtio-scsi-single',
      operatingSystem: { type: 'l26' },
      serialDevice: [{ device: 'socket' }],
      networkDevice: [{ bridge: 'vmbr0', model: 'virtio', macAddress: host.mac }],
      disk: [
        {
          interface: 'scsi0',
          datastoreId: boot.datastoreId,
          fileId: props.bootImageFileId,
          fileFormat: boot.fileFormat,
          size: host.bootDisk.size,
          ssd: host.bootDisk.datastoreClass === 'ssd',
          iothread: true,
          discard: 'on',
        },
        ...props.dataDisks.map((d) => ({
          interface: d.interface,
          datastoreId: d.datastoreId,
          pathInDatastore: d.pathInDatastore,
          fileFormat: d.fileFormat,
          size: d.size,
          serial: dataDiskSerial(d),
          iothread: true,
          discard: 'on',
        })),
      ],
      initialization: {
        datastoreId: stage.datastores.ssd,
        userDataFileId: props.userDataFileId,
        networkDataFileId: props.networkDataFileId,
      },
      timeoutCreate: 1800,
      stopOnDestroy: true,
    });
    const vm = this.vm;
    this[FACTS] = {
      kind: 'vm',
      name: host.name,
      stage: stage.name,
      get vmid() { return vm.vmIdInput ?? -1; },
      get tags() { return vm.tagsInput ?? []; },
      attached: props.dataDisks.map((d) => `${props.dataVmName}/${d.label}`),
    };
  }
}
