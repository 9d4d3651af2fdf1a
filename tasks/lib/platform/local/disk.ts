// Data disks: on this platform a directory per disk under <state>/disks/<data VM>/<label>,
// outside every machine's layer, bind-mounted into the machine that attaches it. The size is
// recorded, not enforced (a directory has none). Only `disk destroy` or `clean
// --destroy-data` deletes one.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HomeprodError } from '../../ui/errors';
import { type LocalConfig, paths } from './config';
import { mkdirPrivate, readJson, writeFileAtomic } from '../../shared/files';
import { nspawnPid } from './machine';
import { machineSpec } from './ssh';
import type { LocalDiskSpec } from './spec';

type Say = (line: string) => void;

export function createDisk(cfg: LocalConfig, spec: LocalDiskSpec, say: Say): void {
  const p = paths(cfg);
  mkdirPrivate(p.disksDir);
  const dir = p.diskDir(spec.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const d of spec.disks) {
    const labelDir = p.diskLabelDir(spec.name, d.label);
    const existed = existsSync(labelDir);
    // 0755 like a freshly formatted file system's root: the guest sees this as its mount point.
    mkdirSync(labelDir, { recursive: true, mode: 0o755 });
    say(`${existed ? 'kept' : 'created'} data disk ${spec.name}/${d.label} (${d.size} GiB, ${d.interface})`);
  }
  writeFileAtomic(join(dir, 'disk.json'), `${JSON.stringify(spec, null, 2)}\n`, 0o600);
}

/** Running machines that attach a disk of `owner`. */
function runningUsers(cfg: LocalConfig, owner: string): string[] {
  const vms = paths(cfg).vmsDir;
  if (!existsSync(vms)) return [];
  const users: string[] = [];
  for (const host of readdirSync(vms)) {
    const spec = machineSpec(cfg, host);
    if (spec?.dataDisks.some((d) => d.owner === owner) && nspawnPid(cfg, host) !== null) users.push(host);
  }
  return users;
}

export async function destroyDisk(cfg: LocalConfig, spec: Pick<LocalDiskSpec, 'name'>, say: Say): Promise<void> {
  const users = runningUsers(cfg, spec.name);
  if (users.length > 0) {
    throw new HomeprodError(`data disk ${spec.name} is attached to ${users.join(', ')}`, EXIT.refused, `destroy ${users.join(', ')} first`);
  }
  rmSync(paths(cfg).diskDir(spec.name), { recursive: true, force: true });
  say(`data disk ${spec.name} destroyed`);
}

export function listDisks(cfg: LocalConfig): LocalDiskSpec[] {
  const dir = paths(cfg).disksDir;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((owner) => readJson<LocalDiskSpec>(join(dir, owner, 'disk.json')))
    .filter((s): s is LocalDiskSpec => s !== null);
}
