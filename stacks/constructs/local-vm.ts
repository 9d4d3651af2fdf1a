// The local platform's bootable VM: a `terraform_data` whose input is the LocalVmSpec that
// tasks/local.ts turns into an nspawn machine. Data disks come from the data stack by
// reference, so this stack cannot be applied before its data disks exist.
import { Construct } from 'constructs';
import { DataResource } from 'cdktn';
import type { LocalVmSpec } from '../../tasks/lib/platform/local/spec';
import { LOCAL_VM_ENV } from '../../tasks/lib/platform/local/spec';
import type { Host, Stage } from '../../tasks/lib/model/types';
import { FACTS, type HasFacts, type VmFacts } from './facts';
import { localExec } from './local-exec';
import { vmTags } from './proxmox-vm';

export interface LocalVmProps {
  host: Host;
  stage: Stage;
  authorizedKeys: string[];
  /** Reference to the data stack's data VM name (null without data disks). */
  dataOwnerRef: string | null;
}

export class LocalVm extends Construct implements HasFacts {
  readonly resource: DataResource;
  readonly spec: LocalVmSpec;
  readonly [FACTS]: VmFacts;

  constructor(scope: Construct, id: string, props: LocalVmProps) {
    super(scope, id);
    const { host, stage } = props;
    if (host.ipv4 === null) throw new Error(`hosts.${host.name}: the local platform needs a static ipv4`);
    if (host.dataDisks.length > 0 && props.dataOwnerRef === null) {
      throw new Error(`hosts.${host.name}: has data disks but no data stack was given`);
    }
    this.spec = {
      name: host.name,
      stage: stage.name,
      roles: host.roles,
      vmid: host.vmid,
      mac: host.mac,
      ipv4: host.ipv4,
      prefixLength: stage.network.prefixLength,
      gateway: stage.network.gateway,
      cidr: stage.network.cidr,
      dnsSearch: stage.network.dnsSearch,
      dataDisks: host.dataDisks.map((d) => ({
        owner: props.dataOwnerRef ?? '',
        label: d.label,
        mountpoint: d.mountpoint,
        readOnly: d.readOnly,
        interface: d.interface,
      })),
      authorizedKeys: props.authorizedKeys,
      // The passthrough owns the emulated NAT: its machine starts the loopback forwards.
      ...(host.roles.includes('passthrough') ? { forward: stage.forward } : {}),
    };
    this.resource = new DataResource(this, 'vm', {
      input: { ...this.spec },
      triggersReplace: { ...this.spec },
      provisioners: localExec(LOCAL_VM_ENV, 'vm'),
    });
    const spec = this.spec;
    this[FACTS] = {
      kind: 'vm',
      name: host.name,
      stage: stage.name,
      get vmid() { return spec.vmid; },
      tags: vmTags(host),
      attached: host.dataDisks.map((d) => `${host.dataVmName}/${d.label}`),
    };
  }
}
