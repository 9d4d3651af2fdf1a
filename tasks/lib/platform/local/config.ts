// Where the local platform keeps its things and how it names them. Everything that must not
// collide between two runs on one machine (namespaces, links, processes) derives from the
// prefix, so a test run and an operator, or two engineers, can boot machines side by side.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { EXIT, HomeprodError } from '../../ui/errors';
import { stateRoot } from '../../shared/paths';

export interface LocalConfig {
  /** Machines, keys, forwards, data disks: <project>/.state/local unless HOMEPROD_STATE_DIR. */
  stateDir: string;
  /** Built images, shared by every prefix: /var/cache/homeprod unless HOMEPROD_CACHE_DIR. */
  cacheDir: string;
  /** Namespace prefix (HOMEPROD_NS_PREFIX, default "hp"): lower-case letters and digits. */
  nsPrefix: string;
  /** The state root (HOMEPROD_STATE_ROOT, default <project>/.state): Terraform's local state and the run records. */
  stateRoot: string;
}

export function localConfig(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const nsPrefix = env.HOMEPROD_NS_PREFIX || 'hp';
  // No "-": "<prefix>-" must never be a prefix of another prefix's names.
  if (!/^[a-z][a-z0-9]{0,7}$/.test(nsPrefix)) {
    throw new HomeprodError(
      `HOMEPROD_NS_PREFIX: "${nsPrefix}" is not 1-8 lower-case letters or digits starting with a letter`,
      EXIT.usage,
    );
  }
  const root = stateRoot(env);
  return {
    stateDir: resolve(env.HOMEPROD_STATE_DIR || resolve(root, 'local')),
    cacheDir: resolve(env.HOMEPROD_CACHE_DIR || '/var/cache/homeprod'),
    nsPrefix,
    stateRoot: root,
  };
}

/** Names of kernel objects; interface names are at most 15 characters. */
export function names(cfg: Pick<LocalConfig, 'nsPrefix'>) {
  const p = cfg.nsPrefix;
  // Links exist under a temporary name in the root namespace for a moment; a short hash of
  // the prefix makes them ours (clean deletes leftovers) without the 15-char limit biting.
  const tmpLinkPrefix = `hp${createHash('sha256').update(p).digest('hex').slice(0, 4)}`;
  return {
    router: `${p}-router`,
    vmNs: (host: string) => `${p}-vm-${host}`,
    /** In the router namespace only, so short fixed names are fine. */
    bridge: (stage: string) => `br-${stage}`,
    /** The router's end of a VM's veth, in the router namespace. */
    routerPort: (vmid: number) => `vm${vmid}`,
    tmpLinkPrefix,
    tmpLink: () => `${tmpLinkPrefix}${createHash('sha256').update(`${process.pid}${Math.random()}`).digest('hex').slice(0, 8)}`,
    /** Inside the VM's namespace. */
    guestLink: 'eth0',
  };
}

export const paths = (cfg: LocalConfig) => ({
  vmsDir: resolve(cfg.stateDir, 'vms'),
  vmDir: (host: string) => resolve(cfg.stateDir, 'vms', host),
  disksDir: resolve(cfg.stateDir, 'disks'),
  diskDir: (owner: string) => resolve(cfg.stateDir, 'disks', owner),
  diskLabelDir: (owner: string, label: string) => resolve(cfg.stateDir, 'disks', owner, label),
  sshDir: resolve(cfg.stateDir, 'ssh'),
  operatorKey: resolve(cfg.stateDir, 'ssh', 'id_ed25519'),
  knownHosts: resolve(cfg.stateDir, 'ssh', 'known_hosts'),
  forwardsDir: resolve(cfg.stateDir, 'forwards'),
  locksDir: resolve(cfg.stateDir, 'locks'),
  imagesDir: resolve(cfg.cacheDir, 'images'),
});
