// How this machine reaches a proxmox VM: ssh as root with the stage's control key, checking a
// known_hosts made from the host keys homeprod made and cloud-init installed (each applied host
// under its address and its name). The control node's Ansible gets the same file, so the first
// connection to a new VM is already exact and nothing is trusted on first use.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Stage } from '../../model/types';
import { writeFileAtomic } from '../../shared/files';
import { HostKeyStore, knownHostsText } from '../../shared/host-keys';
import { controlKeyPath } from '../../shared/keys';
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

/** ssh's options and destination for a host of the stage, and the known_hosts they trust. */
export function reachArgs(host: { name: string; ipv4: string }, stage: Stage, env: NodeJS.ProcessEnv, peers: ReadonlyArray<{ name: string; ipv4: string }> = []): { args: string[]; knownHosts: string } {
  const knownHosts = writeKnownHosts(stage, env, [host, ...peers]);
  const key = controlKeyPath(stage.name, env);
  const args = [
    '-o', 'BatchMode=yes',
    // Only the keys homeprod made are trusted: nothing on first use.
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ServerAliveInterval=15',
    // The stage's control key is authorized for root on every VM (cloud-init), like the site's users' keys.
    ...(existsSync(key) ? ['-i', key] : []),
    `root@${host.ipv4}`,
  ];
  return { args, knownHosts };
}
