// A host's cloud-init, uploaded as two snippets (user-data, network-data) whose names carry
// a hash of their content: a changed configuration is a new file, never an edit in place.
import { Construct } from 'constructs';
import { VirtualEnvironmentFile } from '../../.gen/providers/proxmox/virtual-environment-file';
import type { Host, Stage, User } from '../../tasks/lib/model/types';
import { type CloudInitTask, renderCloudInit, snippetFileName } from '../cloud-init-render';

export interface CloudInitProps {
  host: Host;
  stage: Stage;
  users: User[];
  /** Composed in order after the built-in ones (qemu-guest-agent, data disks). */
  tasks: CloudInitTask[];
  nodeName: string;
}

export class CloudInit extends Construct {
  readonly userDataFileId: string;
  readonly networkDataFileId: string;
  readonly userDataFileName: string;
  readonly networkDataFileName: string;

  constructor(scope: Construct, id: string, props: CloudInitProps) {
    super(scope, id);
    const { userData, networkData } = renderCloudInit(props.host, props.stage, props.users, props.tasks);
    this.userDataFileName = snippetFileName(props.host.name, 'user-data', userData);
    this.networkDataFileName = snippetFileName(props.host.name, 'network-data', networkData);
    const upload = (name: string, fileName: string, data: string) =>
      new VirtualEnvironmentFile(this, name, {
        contentType: 'snippets',
        datastoreId: props.stage.datastores.snippets,
        nodeName: props.nodeName,
        sourceRaw: { data, fileName },
      });
    this.userDataFileId = upload('user-data', this.userDataFileName, userData).id;
    this.networkDataFileId = upload('network-data', this.networkDataFileName, networkData).id;
  }
}
