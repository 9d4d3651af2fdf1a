// `<host>-vm`: one bootable VM on the stage's platform, with its data VM's disks attached by
// cross-stack reference, and the one output every layer after it reads: `host`.
import { Fn, TerraformOutput, TerraformStack, Token } from 'cdktn';
import type { Construct } from 'constructs';
import type { CloudInitTask } from './cloud-init-render';
import { controlNodeTask, dataDiskTask, qemuGuestAgentTask } from './cloud-init-render';
import type { Host, HostOutput, Platform, Site, Stage } from '../tasks/lib/model/types';
import type { HostKeySource } from '../tasks/lib/shared/host-keys';
import { configureBackend } from './backend';
import { CloudImage } from './constructs/cloud-image';
import { CloudInit } from './constructs/cloud-init';
import { LocalVm } from './constructs/local-vm';
import { ProxmoxVm } from './constructs/proxmox-vm';
import type { DataVmStack } from './data-vm-stack';
import { proxmoxProvider } from './proxmox-provider';

export interface VmStackConfig {
  site: Site;
  host: Host;
  stage: Stage;
  platform: Platform;
  stateDir: string;
  /** root's authorized keys in the machine (local) or VM (cloud-init on Proxmox). */
  authorizedKeys: string[];
  /** Proxmox: the host key pair cloud-init installs. */
  hostKeys?: HostKeySource;
  /** Proxmox: where the user-data snippet (it holds the host private key) is written. */
  snippetDir?: string;
  /** The host's data VM stack, when it has data disks. */
  data: DataVmStack | null;
  /** Extra cloud-init tasks, composed after the built-in ones. */
  cloudInitTasks: CloudInitTask[];
}

export const HOST_OUTPUT = 'host';

export class VmStack extends TerraformStack {
  constructor(scope: Construct, config: VmStackConfig) {
    const { host, stage, site } = config;
    super(scope, host.stackName);
    configureBackend(this, stage, config.stateDir);
    if (host.dataDisks.length > 0 && !config.data) throw new Error(`hosts.${host.name}: has data disks but no data VM stack`);

    let ipv4: string;
    if (config.platform === 'proxmox') {
      if (!config.hostKeys || !config.snippetDir) throw new Error(`${host.stackName}: proxmox stacks need hostKeys and snippetDir (see BuildOptions)`);
      const nodeName = proxmoxProvider(this, stage);
      const image = site.images[host.image];
      if (!image) throw new Error(`hosts.${host.name}.image: "${host.image}" is not in images`);
      const cloudImage = new CloudImage(this, 'image', { image, owner: host.name, nodeName, datastoreId: stage.datastores.iso });
      const cloudInit = new CloudInit(this, 'cloud-init', {
        host, stage, users: site.users, nodeName,
        tasks: [qemuGuestAgentTask(), controlNodeTask(host), dataDiskTask(host), ...config.cloudInitTasks],
        rootKeys: config.authorizedKeys, hostKey: config.hostKeys(host.name), snippetDir: config.snippetDir,
      });
      const vm = new ProxmoxVm(this, 'vm', {
        host, stage, nodeName,
        bootImageFileId: cloudImage.fileId,
        userDataFileId: cloudInit.userDataFileId,
        networkDataFileId: cloudInit.networkDataFileId,
        dataDisks: config.data?.disks ?? [],
        dataVmName: config.data?.dataVmName ?? null,
      });
      // A DHCP host's address is what the guest agent reports on its first non-loopback NIC.
      ipv4 = host.ipv4 ?? Token.asString(Fn.element(Fn.element(vm.vm.ipv4Addresses, 1), 0));
    } else {
      new LocalVm(this, 'vm', { host, stage, authorizedKeys: config.authorizedKeys, dataOwnerRef: config.data?.ownerRef ?? null });
      ipv4 = host.ipv4 ?? '';
    }

    const value: HostOutput = {
      name: host.name,
      stage: host.stage,
      roles: host.roles,
      ipv4,
      vmid: host.vmid,
      mac: host.mac,
      data_disks: host.dataDisks.map((d) => ({ label: d.label, mountpoint: d.mountpoint, read_only: d.readOnly, interface: d.interface })),
    };
    new TerraformOutput(this, HOST_OUTPUT, { value, description: 'The host as inventory generation reads it' });
  }
}
