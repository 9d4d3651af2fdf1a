// The Debian image every local machine boots from (read-only, through an overlay): built by
// debootstrap, prepared like a VM template (no SSH host keys, empty machine-id, no
// nameserver), cached under a hash of its recipe and published by one rename, so a killed
// build never leaves a cached image that looks complete.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HomeprodError } from '../../ui/errors';
import { type LocalConfig, paths } from './config';
import { withLock } from '../../shared/files';
import { pidAlive, sh } from '../../shared/process';

/**
 * What goes into the image. Roles may rely on everything here being installed; nothing in
 * the lab reaches the internet. systemd-sysv provides /sbin/init for `nspawn --boot`;
 * python3-cffi-backend is named because debootstrap does not resolve the virtual package
 * python3-cryptography needs.
 */
export const IMAGE_PACKAGES = [
  'systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'sudo',
  'python3', 'python3-apt', 'python3-cffi-backend', 'ansible-core',
  'nginx', 'libnginx-mod-stream', 'certbot', 'openssl', 'ca-certificates', 'curl',
  'iproute2', 'iputils-ping', 'netcat-openbsd', 'procps',
] as const;

/**
 * Not in the image, but installable inside the lab (where nothing reaches the internet) from
 * the image's own `file:` apt repository, /srv/homeprod-apt, together with whatever of their
 * dependencies the image lacks. A role that installs a package outside IMAGE_PACKAGES adds
 * it here (jq: small, and what the end-to-end test installs to prove the repository works).
 */
export const REPO_PACKAGES = ['jq'] as const;

/** Units a template VM should not run: consoles nobody reads, timers that reach the network. */
const MASKED_UNITS = [
  'console-getty.service', 'getty@tty1.service', 'apt-daily.timer', 'apt-daily-upgrade.timer',
  'e2scrub_all.timer', 'e2scrub_reap.service', 'fstrim.timer', 'dpkg-db-backup.timer', 'systemd-pstore.service',
];

/** Enabled by package scripts, but the roles decide when a machine serves. */
const DISABLED_UNITS = ['nginx.service'];

const SSHD_CONFIG = `# homeprod local platform: host keys are written per machine before its first boot.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
`;

export const IMAGE_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  packages: IMAGE_PACKAGES,
  repoPackages: REPO_PACKAGES,
  masked: MASKED_UNITS,
  disabled: DISABLED_UNITS,
  sshd: SSHD_CONFIG,
  // Bump when prepareTemplate changes in a way the fields above do not show.
  prepareVersion: 2,
};

export function imageKey(recipe = IMAGE_RECIPE): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

export function imageDir(cfg: LocalConfig, key = imageKey()): string {
  return join(paths(cfg).imagesDir, key);
}

/** The root filesystem of the current recipe's image (lower dir of every machine). */
export const imageRoot = (cfg: LocalConfig) => join(imageDir(cfg), 'rootfs');

/** The Debian mirror apt on this machine is configured with (HOMEPROD_DEBIAN_MIRROR wins). */
export function debianMirror(env: NodeJS.ProcessEnv = process.env, aptDir = '/etc/apt'): string {
  if (env.HOMEPROD_DEBIAN_MIRROR) return env.HOMEPROD_DEBIAN_MIRROR;
  const files: string[] = [];
  if (existsSync(join(aptDir, 'sources.list'))) files.push(join(aptDir, 'sources.list'));
  const dropIns = join(aptDir, 'sources.list.d');
  if (existsSync(dropIns)) for (const f of readdirSync(dropIns).sort()) files.push(join(dropIns, f));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const found = file.endsWith('.sources') ? mirrorFromDeb822(text) : mirrorFromOneLine(text);
    if (found) return found;
  }
  return 'http://deb.debian.org/debian';
}

function mirrorFromOneLine(text: string): string | null {
  for (const line of text.split('\n')) {
    const words = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    if (words[0] === 'deb' && words[2] === IMAGE_RECIPE.suite && words[1]) return words[1];
  }
  return null;
}

function mirrorFromDeb822(text: string): string | null {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (field('Types').includes('deb') && field('Suites').includes(IMAGE_RECIPE.suite)) return field('URIs')[0] ?? null;
  }
  return null;
}

/** Waiters may sit out a whole build on a loaded machine: a generous bound, still a bound. */
const IMAGE_BUILD_WAIT_MS = 30 * 60_000;

/** Makes the image exist (building it when the recipe is new); returns its rootfs. */
export async function ensureImage(cfg: LocalConfig, say: (line: string) => void): Promise<string> {
  const key = imageKey();
  const dir = imageDir(cfg, key);
  if (existsSync(dir)) return join(dir, 'rootfs');
  const imagesDir = paths(cfg).imagesDir;
  mkdirSync(imagesDir, { recursive: true, mode: 0o755 });
  // The lock is in the cache, not the state dir: every prefix shares the image.
  return withLock(join(imagesDir, `.lock-${key}`), 'image build', async () => {
    if (existsSync(dir)) return join(dir, 'rootfs');
    removeAbandonedBuilds(imagesDir);
    const tmp = join(imagesDir, `.build-${key}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const mirror = debianMirror();
    say(`building the Debian ${IMAGE_RECIPE.suite} image ${key} from ${mirror} (about a minute)`);
    const rootfs = join(tmp, 'rootfs');
    const log = join(tmp, 'debootstrap.out');
    const r = await sh`debootstrap --variant=${IMAGE_RECIPE.variant} --include=${IMAGE_PACKAGES.join(',')} ${IMAGE_RECIPE.suite} ${rootfs} ${mirror} > ${log} 2>&1`.nothrow();
    if (r.exitCode !== 0) {
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-5);
      throw new HomeprodError(`debootstrap failed (exit ${r.exitCode}) building image ${key}`, EXIT.failed, `full log: ${log} and ${rootfs}/debootstrap/debootstrap.log`, tail);
    }
    await fillAptRepo(rootfs, log);
    prepareTemplate(rootfs);
    writeFileSync(join(tmp, 'recipe.json'), `${JSON.stringify({ key, mirror, ...IMAGE_RECIPE }, null, 2)}\n`);
    renameSync(tmp, dir);
    say(`image ${key} ready`);
    return join(dir, 'rootfs');
  }, IMAGE_BUILD_WAIT_MS);
}

/**
 * Downloads REPO_PACKAGES (and missing dependencies) with the image's own apt, which resolves
 * against what the image has, and writes the flat repository's Packages index.
 */
async function fillAptRepo(rootfs: string, log: string): Promise<void> {
  const repo = join(rootfs, 'srv/homeprod-apt');
  mkdirSync(join(repo, 'partial'), { recursive: true });
  if (REPO_PACKAGES.length > 0) {
    const r = await sh`chroot ${rootfs} apt-get -q update >> ${log} 2>&1 && chroot ${rootfs} apt-get -q -y --download-only -o Dir::Cache::archives=/srv/homeprod-apt install ${REPO_PACKAGES} >> ${log} 2>&1`.nothrow();
    if (r.exitCode !== 0) {
      throw new HomeprodError(`downloading ${REPO_PACKAGES.join(', ')} into the image's apt repository failed`, EXIT.failed, `see ${log}`, readFileSync(log, 'utf8').trim().split('\n').slice(-5));
    }
  }
  rmSync(join(repo, 'partial'), { recursive: true, force: true });
  rmSync(join(repo, 'lock'), { force: true });
  const stanzas: string[] = [];
  for (const deb of readdirSync(repo).filter((f) => f.endsWith('.deb')).sort()) {
    const file = join(repo, deb);
    const control = (await sh`dpkg-deb -f ${file}`).stdout.trimEnd();
    const bytes = readFileSync(file);
    stanzas.push(`${control}\nFilename: ./${deb}\nSize: ${bytes.length}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`);
  }
  writeFileSync(join(repo, 'Packages'), stanzas.join('\n'));
}

/** Build dirs whose builder is gone (killed mid-build). */
function removeAbandonedBuilds(imagesDir: string): void {
  for (const entry of readdirSync(imagesDir)) {
    const m = /^\.build-[0-9a-f]+-(\d+)$/.exec(entry);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(imagesDir, entry), { recursive: true, force: true });
  }
}

/** What a VM template is: nothing that identifies one machine, nothing that reaches out. */
export function prepareTemplate(rootfs: string): void {
  const at = (p: string) => join(rootfs, p);
  for (const f of readdirSync(at('etc/ssh'))) if (f.startsWith('ssh_host_')) rmSync(at(`etc/ssh/${f}`));
  writeFileSync(at('etc/ssh/sshd_config.d/homeprod.conf'), SSHD_CONFIG);
  // Empty machine-id: each machine gets its own, written into its layer before boot.
  rmSync(at('etc/machine-id'), { force: true });
  writeFileSync(at('etc/machine-id'), '', { mode: 0o444 });
  rmSync(at('var/lib/dbus/machine-id'), { force: true });
  symlinkSync('/etc/machine-id', at('var/lib/dbus/machine-id'));
  writeFileSync(at('etc/hostname'), 'localhost\n');
  writeFileSync(at('etc/hosts'), '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  rmSync(at('etc/resolv.conf'), { force: true });
  writeFileSync(at('etc/resolv.conf'), '# no nameserver: nothing in the lab resolves outside names\n');
  // No internet inside: apt sees only the image's own (empty unless filled) file: repository.
  writeFileSync(at('etc/apt/sources.list'), 'deb [trusted=yes] file:/srv/homeprod-apt ./\n');
  for (const unit of MASKED_UNITS) {
    rmSync(at(`etc/systemd/system/${unit}`), { force: true });
    symlinkSync('/dev/null', at(`etc/systemd/system/${unit}`));
  }
  for (const dir of readdirSync(at('etc/systemd/system'))) {
    if (!dir.endsWith('.wants')) continue;
    for (const unit of [...DISABLED_UNITS, ...MASKED_UNITS]) rmSync(at(`etc/systemd/system/${dir}/${unit}`), { force: true });
  }
  // Downloaded packages and indexes of the internet mirror: neither is reachable from the lab.
  for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const f of readdirSync(at(dir))) if (f !== 'partial' && f !== 'lock') rmSync(at(`${dir}/${f}`), { recursive: true, force: true });
  }
  rmSync(at('var/cache/apt/pkgcache.bin'), { force: true });
  rmSync(at('var/cache/apt/srcpkgcache.bin'), { force: true });
}
