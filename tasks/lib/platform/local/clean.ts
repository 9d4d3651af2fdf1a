// Removes everything the local platform made under this prefix: forwards, machines, their
// namespaces and layers, stray links; data disks only when asked. Finds leftovers by their
// names and argv too, not only through state files, so a run killed at any point is cleaned.
// Then checks: what it reports as left over is a failure, not a warning.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HomeprodError } from '../../ui/errors';
import { tfStateDir } from '../../shared/paths';
import { acmeStages, stopAcmeServer } from './acme';
import { type LocalConfig, names, paths } from './config';
import { listForwards, stopForward } from './forward';
import { NSPAWN_PROPAGATE_DIR, removeEmptyDir, stopMachine } from './machine';
import { deleteNamespace, ourNamespaces, removeStrayLinks } from './network';
import { allPids, cmdline, killAndWait } from '../../shared/process';
import { machineSpec, rebuildKnownHosts } from './ssh';

type Say = (line: string) => void;

/** Processes of this prefix found by argv: nspawn of our namespaces, forwards into our router. */
function strayProcesses(cfg: LocalConfig): number[] {
  const n = names(cfg);
  const nsPath = `--network-namespace-path=/run/netns/${cfg.nsPrefix}-`;
  return allPids().filter((pid) => {
    if (pid === process.pid) return false;
    const argv = cmdline(pid);
    if (!argv || argv.length === 0) return false;
    if (argv[0]?.endsWith('systemd-nspawn') && argv.some((a) => a.startsWith(nsPath))) return true;
    return argv[0]?.endsWith('systemd-socket-activate') === true && argv.includes(n.router);
  });
}

/** Mounts that belong to this prefix or live in its state dir. */
function strayMounts(cfg: LocalConfig): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return mounts
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(`/run/netns/${cfg.nsPrefix}-`) || mp.startsWith(`${cfg.stateDir}/`));
}

function ourPropagateDirs(cfg: LocalConfig): string[] {
  if (!existsSync(NSPAWN_PROPAGATE_DIR)) return [];
  return readdirSync(NSPAWN_PROPAGATE_DIR).filter((d) => d.startsWith(`${cfg.nsPrefix}-`));
}

/**
 * Terraform's local state of a stack whose resources clean removed: left behind, it would tell
 * the next `up` that the machine (or disk) still exists, and nothing would create it again.
 */
function forgetState(cfg: LocalConfig, stack: string, say: Say): void {
  const dir = tfStateDir(cfg.stateRoot);
  if (!existsSync(dir)) return;
  for (const stage of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const file = join(dir, stage.name, `${stack}.tfstate`);
    if (!existsSync(file)) continue;
    rmSync(file, { force: true });
    rmSync(`${file}.backup`, { force: true });
    say(`removed the terraform state of ${stack}`);
  }
}

export async function clean(cfg: LocalConfig, opts: { destroyData: boolean }, say: Say): Promise<void> {
  const p = paths(cfg);
  for (const f of listForwards(cfg)) {
    await stopForward(cfg, f.address, f.port);
    say(`stopped forward ${f.address}:${f.port}`);
  }
  for (const stage of acmeStages(cfg)) {
    if (await stopAcmeServer(cfg, stage)) say(`stopped the ${stage} ACME server (pebble)`);
  }
  if (existsSync(p.vmsDir)) {
    for (const host of readdirSync(p.vmsDir)) {
      await stopMachine(cfg, host, machineSpec(cfg, host)?.vmid);
      rmSync(p.vmDir(host), { recursive: true, force: true });
      say(`removed machine ${host}`);
      forgetState(cfg, `${host}-vm`, say);
    }
  }
  await killAndWait(strayProcesses(cfg));
  // Machines first, the router (and the forwards' proxies inside it) last.
  const namespaces = (await ourNamespaces(cfg)).sort((a, b) => Number(a === names(cfg).router) - Number(b === names(cfg).router));
  for (const ns of namespaces) {
    await deleteNamespace(ns);
    say(`deleted namespace ${ns}`);
  }
  for (const link of await removeStrayLinks(cfg)) say(`deleted stray link ${link}`);
  for (const dir of ourPropagateDirs(cfg)) removeEmptyDir(join(NSPAWN_PROPAGATE_DIR, dir));
  rmSync(p.forwardsDir, { recursive: true, force: true });
  rmSync(p.locksDir, { recursive: true, force: true });
  if (existsSync(p.sshDir)) await rebuildKnownHosts(cfg);
  if (opts.destroyData && existsSync(p.disksDir)) {
    // A disk's directory is named by its data VM, whose stack is <data VM>-vm.
    for (const owner of readdirSync(p.disksDir)) forgetState(cfg, `${owner}-vm`, say);
    rmSync(p.disksDir, { recursive: true, force: true });
    say('destroyed all data disks');
  }
  const left = [
    ...(await ourNamespaces(cfg)).map((ns) => `namespace ${ns}`),
    ...strayProcesses(cfg).map((pid) => `process ${pid} (${cmdline(pid)?.join(' ') ?? '?'})`),
    ...strayMounts(cfg).map((m) => `mount ${m}`),
    ...ourPropagateDirs(cfg).map((d) => `directory ${join(NSPAWN_PROPAGATE_DIR, d)}`),
  ];
  if (left.length > 0) throw new HomeprodError('clean left things behind:', EXIT.failed, undefined, left);
}
