// `<host>-data-vm`: the data VM of one host, on the stage's platform.
import { TerraformStack } from 'cdktn';
import type { Construct } from 'constructs';
import type { Host, Platform, Stage } from '../tasks/lib/model/types';
import { configureBackend } from './backend';
import { DataDiskVm, type AttachableDisk } from './constructs/data-disk-vm';
import { LocalDataDisk } from './constructs/local-data-disk';
import { proxmoxProvider } from './proxmox-provider';

export interface DataVmStackConfig {
  host: Host;
  stage: Stage;
  platform: Platform;
  stateDir: string;
  allowDataDestroy: boolean;
}

export class DataVmStack extends TerraformStack {
  /** Proxmox: the disks to attach (references into this stack's state). */
  readonly disks: AttachableDisk[] = [];
  /** Local: the data VM's name, read back from this stack's state. */
  readonly ownerRef: string | null = null;
  readonly dataVmName: string;

  constructor(scope: Construct, config: DataVmStackConfig) {
    const { host, stage } = config;
    if (!host.dataStackName || !host.dataVmName) throw new Error(`hosts.${host.name}: has no data disks, so no data VM stack`);
    super(scope, host.dataStackName);
    this.dataVmName = host.dataVmName;
    configureBackend(this, stage, config.stateDir);
    if (config.platform === 'proxmox') {
      const nodeName = proxmoxProvider(this, stage);
      const data = new DataDiskVm(this, 'data', { host, stage, nodeName, allowDataDestroy: config.allowDataDestroy });
      this.disks = data.disks;
    } else {
      const data = new LocalDataDisk(this, 'data', { host, stage, allowDataDestroy: config.allowDataDestroy });
      this.ownerRef = data.nameRef;
    }
  }
}
