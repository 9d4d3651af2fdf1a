// The emulated stage networks: one "router" namespace holding a bridge per stage (address =
// the stage gateway, forwarding on, so lab and prod reach each other) and one namespace per
// machine with a veth into its stage bridge. The root namespace never gets an address or
// route in a lab subnet; it reaches machines only by entering the router namespace.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalConfig, names, paths } from './config';
import { withLock } from '../../shared/files';
import { killAndWait, sh } from '../../shared/process';
import { ip, ipOk, netnsPids } from './netns';

export interface StageNet {
  stage: string;
  gateway: string;
  prefixLength: number;
}

export interface MachineNet extends StageNet {
  name: string;
  vmid: number;
  mac: string;
  ipv4: string;
}

export async function nsExists(ns: string): Promise<boolean> {
  return existsSync(`/run/netns/${ns}`);
}

const linkExists = (ns: string, link: string) => ipOk(['-n', ns, 'link', 'show', 'dev', link]);

/** Every namespace with our prefix (also ones no state file knows about). */
export async function ourNamespaces(cfg: LocalConfig): Promise<string[]> {
  const out = (await sh`ip netns list`).stdout;
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((ns) => ns.startsWith(`${cfg.nsPrefix}-`));
}

const networkLock = (cfg: LocalConfig) => join(paths(cfg).locksDir, 'network');

/** Creates whatever is missing of the router and the stage's bridge; safe to repeat. */
export async function ensureStageBridge(cfg: LocalConfig, net: StageNet): Promise<void> {
  const n = names(cfg);
  await withLock(networkLock(cfg), 'network setup', async () => {
    if (!(await nsExists(n.router))) await ip(['netns', 'add', n.router]);
    await ip(['netns', 'exec', n.router, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    const br = n.bridge(net.stage);
    const make = (await linkExists(n.router, br)) ? [] : [`link add ${br} type bridge`];
    await ip(['-n', n.router], ['link set lo up', ...make, `addr replace ${net.gateway}/${net.prefixLength} dev ${br}`, `link set ${br} up`]);
  });
}

/**
 * A fresh namespace for the machine, wired to its stage bridge with its address and MAC.
 * Anything left of an earlier attempt is removed first, so this converges after a kill.
 */
export async function attachMachine(cfg: LocalConfig, m: MachineNet): Promise<void> {
  const n = names(cfg);
  const ns = n.vmNs(m.name);
  await detachMachine(cfg, m.name, m.vmid);
  await ip(['netns', 'add', ns]);
  // Link names are checked against the root namespace on creation: random temporary names
  // avoid collisions there, the final names are given inside the namespaces.
  const [a, b] = [n.tmpLink(), n.tmpLink()];
  await ip(['link', 'add', a, 'netns', n.router, 'type', 'veth', 'peer', 'name', b, 'netns', ns]);
  const port = n.routerPort(m.vmid);
  await ip(['-n', n.router], [`link set ${a} name ${port}`, `link set ${port} master ${n.bridge(m.stage)} up`]);
  const eth = n.guestLink;
  await ip(['-n', ns], [
    'link set lo up',
    `link set ${b} name ${eth}`,
    `link set ${eth} address ${m.mac}`,
    `addr add ${m.ipv4}/${m.prefixLength} dev ${eth}`,
    `link set ${eth} up`,
    `route add default via ${m.gateway}`,
  ]);
}

/** Kills everything in the machine's namespace, then deletes it (and so its veth pair). */
export async function detachMachine(cfg: LocalConfig, name: string, vmid?: number): Promise<void> {
  const n = names(cfg);
  await deleteNamespace(n.vmNs(name));
  if (vmid !== undefined && (await nsExists(n.router)) && (await linkExists(n.router, n.routerPort(vmid)))) {
    await sh`ip -n ${n.router} link del ${n.routerPort(vmid)}`.nothrow();
  }
}

/**
 * Kills every process in the namespace (a SIGKILLed nspawn leaves its guest running there),
 * then deletes it. Bounded: a process that will not die is an error, not a hang.
 */
export async function deleteNamespace(ns: string): Promise<void> {
  if (!(await nsExists(ns))) return;
  for (let round = 0; round < 5; round++) {
    const pids = await netnsPids(ns);
    if (pids.length === 0) break;
    await killAndWait(pids);
  }
  const left = await netnsPids(ns);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} in namespace ${ns} survived SIGKILL`);
  await sh`ip netns del ${ns}`;
}

/** Links left under a temporary name in the root namespace by a killed run. */
export async function removeStrayLinks(cfg: LocalConfig): Promise<string[]> {
  const prefix = names(cfg).tmpLinkPrefix;
  const out = (await sh`ip -o link show`).stdout;
  const stray = out.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((l) => l.startsWith(prefix));
  for (const link of stray) await sh`ip link del ${link}`.nothrow();
  return stray;
}
