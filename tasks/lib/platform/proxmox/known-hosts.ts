// known_hosts for a proxmox stage, from the host keys homeprod made and delivered by cloud-init:
// each applied host under its address and its name. It is what ssh from here and Ansible on the
// control node check against, strictly, so the first connection to a new VM is already exact.
import { join } from 'node:path';
import type { Stage } from '../../model/types';
import { writeFileAtomic } from '../../shared/files';
import { HostKeyStore, knownHostsText } from '../../shared/host-keys';
import { hostKeysDir, stateRoot } from '../../shared/paths';

/** Writes `<state>/hostkeys/<stage>/known_hosts` for these hosts and returns its path. */
export function writeKnownHosts(stage: Stage, env: NodeJS.ProcessEnv, hosts: ReadonlyArray<{ name: string; ipv4: string }>): string {
  const dir = hostKeysDir(stateRoot(env), stage.name);
  const store = new HostKeyStore(dir);
  const byName = new Map<string, string>();
  for (const h of hosts) if (!byName.has(h.name)) byName.set(h.name, h.ipv4);
  const entries = [...byName].flatMap(([name, ipv4]) => {
    const publicKey = store.publicKey(name);
    return publicKey ? [{ names: ipv4 ? [ipv4, name] : [name], publicKey }] : [];
  });
  const file = join(dir, 'known_hosts');
  writeFileAtomic(file, knownHostsText(entries), 0o600);
  return file;
}
