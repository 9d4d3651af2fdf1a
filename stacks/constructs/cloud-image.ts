// The cloud image a boot disk is imported from, downloaded by Proxmox itself and checked
// against the model's sha256. The file name carries the owning host: every VM stack owns
// its copy, so destroying one stack never removes an image another stack booted from.
import { Construct } from 'constructs';
import { VirtualEnvironmentDownloadFile } from '../../.gen/providers/proxmox/virtual-environment-download-file';
import type { CloudImage as CloudImageModel } from '../../tasks/lib/model/types';

export interface CloudImageProps {
  image: CloudImageModel;
  owner: string;
  nodeName: string;
  datastoreId: string;
}

export class CloudImage extends Construct {
  /** `<datastore>:iso/<file>`, what a disk's `file_id` takes. */
  readonly fileId: string;

  constructor(scope: Construct, id: string, props: CloudImageProps) {
    super(scope, id);
    const file = new VirtualEnvironmentDownloadFile(this, 'file', {
      contentType: 'iso',
      datastoreId: props.datastoreId,
      nodeName: props.nodeName,
      url: props.image.url,
      fileName: `${props.owner}-${props.image.fileName}`,
      checksum: props.image.sha256,
      checksumAlgorithm: 'sha256',
      overwrite: false,
    });
    this.fileId = file.id;
  }
}
