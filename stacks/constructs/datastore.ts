// Where a disk of a given class lives, and in which format: block datastores (lvm, zfs, rbd)
// only hold raw volumes, file datastores get qcow2.
import type { DatastoreClass, Datastores } from '../../tasks/lib/model/types';

export function datastoreFor(datastores: Datastores, cls: DatastoreClass): { datastoreId: string; fileFormat: 'raw' | 'qcow2' } {
  const datastoreId = datastores[cls];
  return { datastoreId, fileFormat: datastores.block.includes(datastoreId) ? 'raw' : 'qcow2' };
}
