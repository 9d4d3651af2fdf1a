// The local platform's command line: what Terraform's local-exec provisioners call (vm and
// disk create/destroy, spec in the environment) and what an operator types (status, ssh,
// clean). Progress goes to stderr, so Terraform shows it and stdout stays for `status`.
import { spawnSync } from 'node:child_process';
import { EXIT, HomeprodError } from '../../ui/errors';
import type { Output } from '../../ui/output';
import { clean } from './clean';
import { type LocalConfig, localConfig } from './config';
import { createDisk, destroyDisk } from './disk';
import { ensureImage } from './image';
import { createMachine, destroyMachine, knownMachines } from './machine';
import { preflight } from './preflight';
import { machineSpec, sshArgs } from './ssh';
import { statusLines } from './status';
import { diskSpecFromEnv, vmSpecFromEnv } from './validate';

export const LOCAL_USAGE = `The local platform: the site's machines as systemd-nspawn containers on this machine.

Usage:
  npx tsx tasks/local.ts status                    machines with address, state, data disks; forwards
  npx tsx tasks/local.ts ssh <host> [-- command]   a shell, or a command, on a machine
  npx tsx tasks/local.ts clean [--destroy-data]    remove every machine, namespace, process, forward
                                                   (data disks only with --destroy-data), and the
                                                   terraform state of what it removed
  npx tsx tasks/local.ts start [host...]           boot machines that exist but are stopped (after a reboot)
  npx tsx tasks/local.ts image                     build the image now (otherwise the first vm create does)
  npx tsx tasks/local.ts vm create|destroy         spec in HOMEPROD_VM (JSON); Terraform runs these
  npx tsx tasks/local.ts disk create|destroy       spec in HOMEPROD_DISK (JSON); Terraform runs these

Environment: HOMEPROD_STATE_DIR (default .state/local), HOMEPROD_CACHE_DIR (default
/var/cache/homeprod), HOMEPROD_NS_PREFIX (default hp), HOMEPROD_DEBIAN_MIRROR, HOMEPROD_NO_INSTALL=1.
`;

/** What the pipeline adds to the platform's own commands (the platform knows no layer). */
export interface LocalHooks {
  /** After `clean` removed the machines: forget what the pipeline recorded about them. */
  afterClean?: (cfg: LocalConfig, say: (line: string) => void) => void;
}

export async function localMain(argv: string[], out: Output, hooks: LocalHooks = {}): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out.line(LOCAL_USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  const cfg = localConfig();
  const say = (line: string) => out.error(`[local] ${line}`);
  const usage = (why: string) => new HomeprodError(why, EXIT.usage, 'npx tsx tasks/local.ts --help');
  await preflight({ say });
  switch (command) {
    case 'status':
      for (const line of await statusLines(cfg)) out.line(line);
      return EXIT.ok;
    case 'start': {
      const hosts = [sub, ...rest].filter((h): h is string => h !== undefined);
      for (const host of hosts.length > 0 ? hosts : knownMachines(cfg)) {
        const spec = machineSpec(cfg, host);
        if (!spec) throw usage(`start: no local machine named "${host}"`);
        await createMachine(cfg, spec, say);
      }
      return EXIT.ok;
    }
    case 'image':
      out.line(await ensureImage(cfg, say));
      return EXIT.ok;
    case 'clean': {
      const flags = [sub, ...rest].filter((a) => a !== undefined);
      const unknown = flags.filter((a) => a !== '--destroy-data');
      if (unknown.length > 0) throw usage(`clean: unknown argument ${unknown.join(' ')}`);
      try {
        await clean(cfg, { destroyData: flags.includes('--destroy-data') }, say);
      } finally {
        hooks.afterClean?.(cfg, say);
      }
      say('clean: nothing of prefix ' + cfg.nsPrefix + ' is left');
      return EXIT.ok;
    }
    case 'ssh': {
      if (!sub) throw usage('ssh: which host?');
      if (rest.length > 0 && rest[0] !== '--') throw usage(`ssh: put the command after "--": ssh ${sub} -- ${rest.join(' ')}`);
      const remote = rest.slice(1);
      const tty = remote.length === 0 && process.stdin.isTTY ? ['-t'] : [];
      const r = spawnSync('ssh', [...tty, ...sshArgs(sub, cfg), ...(remote.length > 0 ? ['--', ...remote] : [])], { stdio: 'inherit' });
      return r.status ?? EXIT.failed;
    }
    case 'vm':
      if (sub === 'create') await createMachine(cfg, vmSpecFromEnv(), say);
      else if (sub === 'destroy') await destroyMachine(cfg, vmSpecFromEnv(), say);
      else throw usage(`vm: expected create or destroy, not "${sub ?? ''}"`);
      return EXIT.ok;
    case 'disk':
      if (sub === 'create') createDisk(cfg, diskSpecFromEnv(), say);
      else if (sub === 'destroy') await destroyDisk(cfg, diskSpecFromEnv(), say);
      else throw usage(`disk: expected create or destroy, not "${sub ?? ''}"`);
      return EXIT.ok;
    default:
      throw usage(`unknown command "${command}"`);
  }
}
