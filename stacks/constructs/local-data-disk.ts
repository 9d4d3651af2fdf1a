// The local platform's data VM: a `terraform_data` whose input is the LocalDiskSpec; its
// local-exec provisioners ask tasks/local.ts to create and (only on an explicit destroy) delete
// the disk directories. Built-in resource, no provider: `terraform init` works offline.
import { Construct } from 'constructs';
import { DataResource, Token } from 'cdktn';
import type { LocalDiskSpec } from '../../tasks/lib/platform/local/spec';
import { LOCAL_DISK_ENV } from '../../tasks/lib/platform/local/spec';
import type { Host, Stage } from '../../tasks/lib/model/types';
import { NEVER_START_TAG } from './data-disk-vm';
import { FACTS, type DataVmFacts, type HasFacts } from './facts';
import { localExec } from './local-exec';

export interface LocalDataDiskProps {
  host: Host;
  stage: Stage;
  allowDataDestroy: boolean;
}

export class LocalDataDisk extends Construct implements HasFacts {
  readonly resource: DataResource;
  readonly spec: LocalDiskSpec;
  /** The data VM's name as Terraform stored it: a cross-stack reference for the VM stack. */
  readonly nameRef: string;
  readonly [FACTS]: DataVmFacts;

  constructor(scope: Construct, id: string, props: LocalDataDiskProps) {
    super(scope, id);
    const { host, stage } = props;
    if (!host.dataVmName || host.dataVmid === null) throw new Error(`hosts.${host.name}: has no data disks, so no data VM`);
    this.spec = {
      name: host.dataVmName,
      stage: stage.name,
      vmid: host.dataVmid,
      disks: host.dataDisks.map((d) => ({ label: d.label, size: d.size, interface: d.interface })),
    };
    this.resource = new DataResource(this, 'disk', {
      input: { ...this.spec },
      triggersReplace: { ...this.spec },
      lifecycle: { preventDestroy: !props.allowDataDestroy },
      provisioners: localExec(LOCAL_DISK_ENV, 'disk'),
    });
    this.nameRef = Token.asString(this.resource.output.lookup('name'));
    const resource = this.resource;
    const spec = this.spec;
    this[FACTS] = {
      kind: 'data',
      name: host.dataVmName,
      stage: stage.name,
      get vmid() { return spec.vmid; },
      // terraform_data has no tags; the stage travels in the spec the CLI receives.
      get tags() { return [spec.stage, NEVER_START_TAG]; },
      get protected() { return resource.lifecycle?.preventDestroy === true; },
      destroyAllowed: props.allowDataDestroy,
    };
  }
}
