// One local machine: a systemd-nspawn container booting the cached image through an overlay,
// in its own network namespace, reachable over SSH. Create converges from any half-made
// state (a SIGKILL at any point): what is not known to be complete is thrown away and made
// again; destroy never touches data disks, which live outside the machine's directory.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, HomeprodError } from '../../ui/errors';
import { type LocalConfig, names, paths } from './config';
import { mkdirPrivate, withLock, writeFileAtomic } from '../../shared/files';
import { startForward, stageForwards, stopForward } from './forward';
import { ensureImage, imageDir, imageKey } from './image';
import { attachMachine, detachMachine, ensureStageBridge, nsExists } from './network';
import { cmdline, killAndWait, sh, spawnDetached } from '../../shared/process';
import type { LocalVmSpec } from './spec';
import { ensureOperatorKey, knownHostsLine, rebuildKnownHosts, sshCommand, writeHostKey } from './ssh';

export type Say = (line: string) => void;

export const machineFiles = (cfg: LocalConfig, host: string) => {
  const dir = paths(cfg).vmDir(host);
  return {
    dir,
    /** The machine's own layer over the image. nspawn keeps its overlay work dir beside it. */
    upper: join(dir, 'upper'),
    spec: join(dir, 'spec.json'),
    pid: join(dir, 'nspawn.pid'),
    log: join(dir, 'nspawn.log'),
    /** Holds the hash of spec + image once the layer is complete. */
    prepared: join(dir, 'prepared'),
    /** The image key the layer sits on: a machine keeps its image, as a VM keeps its disk. */
    image: join(dir, 'image'),
    /** Holds the same hash once sshd answered. */
    ready: join(dir, 'ready'),
    knownHosts: join(dir, 'known_hosts'),
  };
};

const readText = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim() : '');

export function specHash(spec: LocalVmSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

/** The nspawn process of this machine, checked by its argv so a reused pid is never killed. */
export function nspawnPid(cfg: LocalConfig, host: string): number | null {
  const pid = Number.parseInt(readText(machineFiles(cfg, host).pid), 10);
  if (!Number.isInteger(pid)) return null;
  const argv = cmdline(pid);
  const ours = argv?.some((a) => a.endsWith('systemd-nspawn')) && argv.includes(`--network-namespace-path=/run/netns/${names(cfg).vmNs(host)}`);
  return ours ? pid : null;
}

export function nspawnArgs(cfg: LocalConfig, spec: LocalVmSpec, rootfs: string): string[] {
  const f = machineFiles(cfg, spec.name);
  return [
    '--quiet',
    '--boot',
    // Nothing here runs systemd as pid 1 to register with or to make a scope unit in; on
    // this cgroup-v1 host these two are all nspawn needs (no cgroup flags, no env overrides).
    '--register=no',
    '--keep-unit',
    `--machine=${machineName(cfg, spec.name)}`,
    `--directory=${rootfs}`,
    // "+/" is the image root: the image stays read-only, every write lands in `upper`.
    `--overlay=+/:${f.upper}:/`,
    `--network-namespace-path=/run/netns/${names(cfg).vmNs(spec.name)}`,
    `--hostname=${spec.name}`,
    // The layer carries resolv.conf (no nameserver), and the host's journal stays the host's.
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=read-only',
    ...spec.dataDisks.map((d) => `${d.readOnly ? '--bind-ro' : '--bind'}=${paths(cfg).diskLabelDir(d.owner, d.label)}:${d.mountpoint}`),
  ];
}

/** Writes what makes the machine itself into its layer: name, id, keys, resolver search. */
async function prepareLayer(cfg: LocalConfig, spec: LocalVmSpec, operatorKey: string): Promise<string> {
  const f = machineFiles(cfg, spec.name);
  const at = (p: string) => join(f.upper, p);
  mkdirSync(at('etc/ssh'), { recursive: true, mode: 0o755 });
  mkdirSync(at('root/.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(at('root'), 0o700);
  chmodSync(at('root/.ssh'), 0o700);
  writeFileSync(at('etc/hostname'), `${spec.name}\n`);
  writeFileSync(at('etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${spec.name}\n${spec.ipv4}\t${spec.name}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`);
  writeFileSync(at('etc/machine-id'), `${createHash('sha256').update(`${spec.name}/${spec.vmid}`).digest('hex').slice(0, 32)}\n`, { mode: 0o444 });
  writeFileSync(at('etc/resolv.conf'), `# no nameserver: nothing in the lab resolves outside names\n${spec.dnsSearch ? `search ${spec.dnsSearch}\n` : ''}`);
  const keys = [...new Set([operatorKey, ...spec.authorizedKeys].map((k) => k.trim()))];
  writeFileSync(at('root/.ssh/authorized_keys'), `${keys.join('\n')}\n`, { mode: 0o600 });
  return writeHostKey(at('etc/ssh'), spec.name);
}

/** Where nspawn keeps a machine's mount-propagation dir; a killed nspawn leaves it behind. */
export const NSPAWN_PROPAGATE_DIR = '/run/systemd/nspawn/propagate';
const machineName = (cfg: LocalConfig, host: string) => `${cfg.nsPrefix}-${host}`;

/** Kills the machine (nspawn and every process of its guest) and removes its namespace. */
export async function stopMachine(cfg: LocalConfig, host: string, vmid?: number): Promise<void> {
  const pid = nspawnPid(cfg, host);
  if (pid !== null) await killAndWait([pid]);
  await detachMachine(cfg, host, vmid);
  removeEmptyDir(join(NSPAWN_PROPAGATE_DIR, machineName(cfg, host)));
}

/** rmdir, never rm -r: if it is not empty it is not a leftover we understand. */
export function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* absent, or not empty */
  }
}

/** Machines this state dir has (in any state). */
export function knownMachines(cfg: LocalConfig): string[] {
  const dir = paths(cfg).vmsDir;
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export type MachineState = 'running' | 'booting' | 'stopped' | 'incomplete';

export async function machineState(cfg: LocalConfig, host: string): Promise<MachineState> {
  const f = machineFiles(cfg, host);
  const alive = nspawnPid(cfg, host) !== null && (await nsExists(names(cfg).vmNs(host)));
  if (!readText(f.prepared)) return 'incomplete';
  if (!alive) return 'stopped';
  return readText(f.ready) === readText(f.prepared) ? 'running' : 'booting';
}

async function sshAnswers(cfg: LocalConfig, spec: LocalVmSpec): Promise<boolean> {
  const port = await sh`ip netns exec ${names(cfg).router} nc -z -w 1 ${spec.ipv4} 22`.nothrow();
  if (port.exitCode !== 0) return false;
  const r = await sshCommand(spec.name, 'true', { cfg, timeoutMs: 15_000 });
  return r.exitCode === 0;
}

async function waitForSsh(cfg: LocalConfig, spec: LocalVmSpec, timeoutMs: number): Promise<void> {
  const f = machineFiles(cfg, spec.name);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (nspawnPid(cfg, spec.name) === null) {
      const tail = readText(f.log).split('\n').slice(-8);
      throw new HomeprodError(`machine ${spec.name}: systemd-nspawn exited during boot`, EXIT.failed, `full log: ${f.log}`, tail);
    }
    if (await sshAnswers(cfg, spec)) return;
    await sleep(250);
  }
  throw new HomeprodError(`machine ${spec.name}: sshd did not answer on ${spec.ipv4}:22 within ${timeoutMs / 1000} s`, EXIT.failed, `boot log: ${f.log}`);
}

function checkDataDisks(cfg: LocalConfig, spec: LocalVmSpec): void {
  spec.dataDisks.forEach((d, i) => {
    const dir = paths(cfg).diskLabelDir(d.owner, d.label);
    if (!existsSync(dir)) {
      throw new HomeprodError(
        `HOMEPROD_VM.dataDisks[${i}]: data disk ${d.owner}/${d.label} does not exist (${dir})`,
        EXIT.precondition,
        `create ${d.owner} first (its stack, or tasks/local.ts disk create)`,
      );
    }
  });
}

const lockFile = (cfg: LocalConfig, host: string) => join(paths(cfg).locksDir, `vm-${host}`);

/**
 * Makes the machine exist and answer SSH. Already running with the same spec: nothing to do.
 * A complete layer for the same spec (e.g. after a reboot of this machine): booted again.
 * Anything else: thrown away and made from scratch.
 */
export async function createMachine(cfg: LocalConfig, spec: LocalVmSpec, say: Say, bootTimeoutMs = 90_000): Promise<void> {
  mkdirPrivate(cfg.stateDir);
  const operatorKey = await ensureOperatorKey(cfg);
  checkDataDisks(cfg, spec);
  const f = machineFiles(cfg, spec.name);
  await withLock(lockFile(cfg, spec.name), `machine ${spec.name}`, async () => {
    const hash = specHash(spec);
    if (readText(f.ready) === hash && nspawnPid(cfg, spec.name) !== null && (await sshAnswers(cfg, spec))) {
      say(`${spec.name} is already running (${spec.ipv4})`);
    } else {
      const keptImage = readText(f.image);
      const reuse = readText(f.prepared) === hash && existsSync(f.upper) && keptImage !== '' && existsSync(imageDir(cfg, keptImage));
      await stopMachine(cfg, spec.name, spec.vmid);
      const rootfs = reuse ? join(imageDir(cfg, keptImage), 'rootfs') : await ensureImage(cfg, say);
      if (!reuse) {
        rmSync(f.dir, { recursive: true, force: true });
        mkdirPrivate(f.dir);
        writeFileAtomic(f.image, `${imageKey()}\n`, 0o600);
        writeFileAtomic(f.spec, `${JSON.stringify(spec, null, 2)}\n`, 0o600);
        const hostKey = await prepareLayer(cfg, spec, operatorKey);
        writeFileAtomic(f.knownHosts, knownHostsLine(spec, hostKey), 0o600);
        writeFileAtomic(f.prepared, `${hash}\n`, 0o600);
      }
      // Overlay work dirs of earlier boots (a killed nspawn leaves its ".#upper…" behind).
      for (const entry of readdirSync(f.dir)) if (entry.startsWith('.#')) rmSync(join(f.dir, entry), { recursive: true, force: true });
      rmSync(f.ready, { force: true });
      await rebuildKnownHosts(cfg);
      await ensureStageBridge(cfg, { stage: spec.stage, gateway: spec.gateway, prefixLength: spec.prefixLength });
      await attachMachine(cfg, spec);
      say(`booting ${spec.name} (${spec.ipv4}, ${spec.stage})`);
      writeFileSync(f.log, '', { mode: 0o600 });
      const pid = spawnDetached('systemd-nspawn', nspawnArgs(cfg, spec, rootfs), f.log);
      writeFileAtomic(f.pid, `${pid}\n`, 0o600);
      await waitForSsh(cfg, spec, bootTimeoutMs);
      writeFileAtomic(f.ready, `${hash}\n`, 0o600);
      say(`${spec.name} answers SSH on ${spec.ipv4}`);
    }
    if (spec.roles.includes('passthrough') && spec.forward) {
      for (const fwd of stageForwards(spec.forward, spec.ipv4)) {
        await startForward(cfg, fwd);
        say(`forward ${fwd.address}:${fwd.port} → ${spec.name}:${fwd.targetPort}`);
      }
    }
  });
}

/** Removes the machine and its layer; its data disks stay. */
export async function destroyMachine(cfg: LocalConfig, spec: Pick<LocalVmSpec, 'name' | 'vmid' | 'forward' | 'roles'>, say: Say): Promise<void> {
  const f = machineFiles(cfg, spec.name);
  await withLock(lockFile(cfg, spec.name), `machine ${spec.name}`, async () => {
    if (spec.roles.includes('passthrough') && spec.forward) {
      for (const fwd of stageForwards(spec.forward, '')) await stopForward(cfg, fwd.address, fwd.port);
    }
    await stopMachine(cfg, spec.name, spec.vmid);
    rmSync(f.dir, { recursive: true, force: true });
    await rebuildKnownHosts(cfg);
    say(`${spec.name} destroyed (data disks kept)`);
  });
}
