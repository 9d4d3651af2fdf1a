// What the local platform needs from the machine, checked before anything is touched, with
// the exact fix in the message. On Debian/Ubuntu as root, missing packages are installed
// after saying which (HOMEPROD_NO_INSTALL=1 turns that off).
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EXIT, HomeprodError } from '../../ui/errors';
import { sh } from '../../shared/process';

/** Executable → the Debian package that provides it. */
export const REQUIRED_TOOLS: ReadonlyArray<{ tool: string; pkg: string }> = [
  { tool: 'ip', pkg: 'iproute2' },
  { tool: 'debootstrap', pkg: 'debootstrap' },
  { tool: 'systemd-nspawn', pkg: 'systemd-container' },
  { tool: 'ssh', pkg: 'openssh-client' },
  { tool: 'ssh-keygen', pkg: 'openssh-client' },
  // ProxyCommand into the router namespace: the root namespace has no route to the lab.
  { tool: 'nc', pkg: 'netcat-openbsd' },
  { tool: 'systemd-socket-activate', pkg: 'systemd' },
  { tool: '/lib/systemd/systemd-socket-proxyd', pkg: 'systemd' },
];

export function findTool(tool: string, envPath = process.env.PATH ?? ''): string | null {
  const candidates = tool.startsWith('/') ? [tool] : [...envPath.split(delimiter), '/usr/sbin', '/sbin'].map((d) => join(d, tool));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

export function missingPackages(): string[] {
  return [...new Set(REQUIRED_TOOLS.filter(({ tool }) => findTool(tool) === null).map(({ pkg }) => pkg))];
}

function isDebianLike(): boolean {
  if (!existsSync('/etc/os-release')) return false;
  const text = readFileSync('/etc/os-release', 'utf8');
  return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(text);
}

/**
 * Kernel limits every machine's systemd draws on, shared by all of root's containers: with
 * the default 128 inotify instances the tenth-or-so machine fails to boot ("Failed to
 * allocate manager object: Too many open files").
 */
export const KERNEL_MINIMUMS: ReadonlyArray<{ sysctl: string; min: number }> = [
  { sysctl: 'fs/inotify/max_user_instances', min: 8192 },
  { sysctl: 'fs/inotify/max_user_watches', min: 524288 },
];

/** Raises the limits that are below their minimum (root only), saying which. */
export function ensureKernelLimits(say: (line: string) => void, procSys = '/proc/sys'): void {
  for (const { sysctl, min } of KERNEL_MINIMUMS) {
    const file = join(procSys, sysctl);
    const current = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    if (current >= min) continue;
    writeFileSync(file, `${min}\n`);
    say(`raised ${sysctl.replaceAll('/', '.')} from ${current} to ${min} (every machine's systemd needs some)`);
  }
}

export interface PreflightOptions {
  /** Say what is about to happen (stderr). */
  say: (line: string) => void;
  install?: boolean;
}

export async function preflight({ say, install = process.env.HOMEPROD_NO_INSTALL !== '1' }: PreflightOptions): Promise<void> {
  if (process.platform !== 'linux') {
    throw new HomeprodError(
      `the local platform needs Linux (network namespaces, systemd-nspawn); this is ${process.platform}`,
      EXIT.precondition,
      'run it on a Linux machine or VM, or use the proxmox platform',
    );
  }
  if (process.getuid?.() !== 0) {
    throw new HomeprodError('the local platform needs root (namespaces, bridges, machines)', EXIT.precondition, 'run it again with sudo');
  }
  ensureKernelLimits(say);
  const missing = missingPackages();
  if (missing.length === 0) return;
  const fix = `apt-get install -y ${missing.join(' ')}`;
  if (!install || !isDebianLike()) {
    throw new HomeprodError(`missing Debian packages: ${missing.join(', ')}`, EXIT.precondition, `install them: ${fix}`);
  }
  say(`installing missing Debian packages: ${missing.join(' ')}`);
  const r = await sh`DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing}`.nothrow();
  if (r.exitCode !== 0 || missingPackages().length > 0) {
    throw new HomeprodError(`could not install ${missing.join(', ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`, EXIT.precondition, `run: apt-get update && ${fix}`);
  }
}
