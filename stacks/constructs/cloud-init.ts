// A host's cloud-init, uploaded as two snippets (user-data, network-data) whose names carry
// a hash of their content: a changed configuration is a new file, never an edit in place.
// The user-data holds the VM's host private key, so it never enters the synthesized JSON:
// homeprod writes it 0600 under the state root and the provider uploads it from that file.
import { Construct } from 'constructs';
import { VirtualEnvironmentFile } from '../../.gen/providers/proxmox/virtual-environment-file';
import type { Host, Stage, User } from '../../tasks/lib/model/types';
import type { HostKeyPair } from '../../tasks/lib/shared/host-keys';
import { type CloudInitTask, renderCloudInit, snippetFileName, writeSecretSnippet } from '../cloud-init-render';

export interface CloudInitProps {
  host: Host;
  stage: Stage;
  users: User[];
  /** Composed in order after the built-in ones (qemu-guest-agent, Ansible on a control node, data disks). */
  tasks: CloudInitTask[];
  nodeName: string;
  /** root's authorized keys. */
  rootKeys: string[];
  hostKey: HostKeyPair;
  /** Where the user-data snippet is written (absolute; 0700). */
  snippetDir: string;
}

export class CloudInit extends Construct {
  readonly userDataFileId: string;
  readonly networkDataFileId: string;
  readonly userDataFileName: string;
  readonly networkDataFileName: string;
  /** The local file the user-data is uploaded from. */
  readonly userDataPath: string;

  constructor(scope: Construct, id: string, props: CloudInitProps) {
    super(scope, id);
    const { userData, networkData } = renderCloudInit(props.host, props.stage, props.users, props.tasks, { rootKeys: props.rootKeys, hostKey: props.hostKey });
    this.userDataFileName = snippetFileName(props.host.name, 'user-data', userData);
    this.networkDataFileName = snippetFileName(props.host.name, 'network-data', networkData);
    this.userDataPath = writeSecretSnippet(props.snippetDir, this.userDataFileName, userData);
    const file = (name: string, source: Pick<ConstructorParameters<typeof VirtualEnvironmentFile>[2], 'sourceFile' | 'sourceRaw'>) =>
      new VirtualEnvironmentFile(this, name, {
        contentType: 'snippets',
        datastoreId: props.stage.datastores.snippets,
        nodeName: props.nodeName,
        ...source,
      });
    this.userDataFileId = file('user-data', { sourceFile: { path: this.userDataPath, fileName: this.userDataFileName } }).id;
    this.networkDataFileId = file('network-data', { sourceRaw: { data: networkData, fileName: this.networkDataFileName } }).id;
  }
}
