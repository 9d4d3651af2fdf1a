// The emulated NAT: a loopback port on this machine that reaches a port of a machine in the
// lab, without any route from the root namespace into the lab. systemd-socket-activate binds
// the port here, then `ip netns exec` (which keeps the pid, so LISTEN_PID still matches)
// enters the router namespace and execs systemd-socket-proxyd, which connects from there.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, HomeprodError } from '../../ui/errors';
import type { LocalForward } from '../../model/types';
import { type LocalConfig, names, paths } from './config';
import { mkdirPrivate, readJson, writeFileAtomic } from '../../shared/files';
import { cmdline, killAndWait, spawnDetached } from '../../shared/process';
import { inNetns } from './netns';

const SOCKET_PROXYD = '/lib/systemd/systemd-socket-proxyd';

export interface Forward {
  address: string;
  port: number;
  targetIp: string;
  targetPort: number;
}

interface ForwardRecord extends Forward {
  pid: number;
}

const recordFile = (cfg: LocalConfig, address: string, port: number) => join(paths(cfg).forwardsDir, `${address}_${port}.json`);

/** Is `pid` the proxy of this forward (and not a process that reused the pid)? */
function isOurs(cfg: LocalConfig, rec: ForwardRecord): boolean {
  const argv = cmdline(rec.pid);
  if (!argv) return false;
  const router = names(cfg).router;
  const proxy = argv.includes(SOCKET_PROXYD) && argv.includes(`${rec.targetIp}:${rec.targetPort}`) && inNetns(rec.pid, router);
  const beforeExec = argv.some((a) => a.endsWith('systemd-socket-activate')) && argv.includes(`${rec.address}:${rec.port}`) && argv.includes(router);
  return proxy || beforeExec;
}

async function portFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Starts (or keeps) the forward; idempotent, and replaces a forward to another target. */
export async function startForward(cfg: LocalConfig, fwd: Forward): Promise<void> {
  const file = recordFile(cfg, fwd.address, fwd.port);
  const old = readJson<ForwardRecord>(file);
  if (old && isOurs(cfg, old) && old.targetIp === fwd.targetIp && old.targetPort === fwd.targetPort) return;
  await stopForward(cfg, fwd.address, fwd.port);
  if (!(await portFree(fwd.address, fwd.port))) {
    throw new HomeprodError(
      `forward ${fwd.address}:${fwd.port} → ${fwd.targetIp}:${fwd.targetPort}: ${fwd.address}:${fwd.port} is already in use`,
      EXIT.precondition,
      'free the port, or choose another in the stage\'s forward settings (forward.httpPort / forward.httpsPort)',
    );
  }
  mkdirPrivate(paths(cfg).forwardsDir);
  const log = join(paths(cfg).forwardsDir, `${fwd.address}_${fwd.port}.log`);
  const pid = spawnDetached('systemd-socket-activate', ['-l', `${fwd.address}:${fwd.port}`, 'ip', 'netns', 'exec', names(cfg).router, SOCKET_PROXYD, `${fwd.targetIp}:${fwd.targetPort}`], log);
  writeFileAtomic(file, `${JSON.stringify({ ...fwd, pid } satisfies ForwardRecord)}\n`, 0o600);
  // Bound the wait: the port is listening once the proxy has been exec'd.
  for (let i = 0; i < 100; i++) {
    const argv = cmdline(pid);
    if (!argv) throw new HomeprodError(`forward ${fwd.address}:${fwd.port} exited at once; see ${log}`, EXIT.failed);
    if (argv.includes(SOCKET_PROXYD)) return;
    await sleep(50);
  }
  throw new HomeprodError(`forward ${fwd.address}:${fwd.port} did not start within 5 s; see ${log}`, EXIT.failed);
}

export async function stopForward(cfg: LocalConfig, address: string, port: number): Promise<void> {
  const file = recordFile(cfg, address, port);
  const rec = readJson<ForwardRecord>(file);
  if (rec && isOurs(cfg, rec)) await killAndWait([rec.pid]);
  rmSync(file, { force: true });
}

/** The two forwards of a stage's passthrough: HTTP and HTTPS. */
export const stageForwards = (f: LocalForward, targetIp: string): Forward[] => [
  { address: f.address, port: f.httpPort, targetIp, targetPort: 80 },
  { address: f.address, port: f.httpsPort, targetIp, targetPort: 443 },
];

export function listForwards(cfg: LocalConfig): Array<ForwardRecord & { alive: boolean }> {
  const dir = paths(cfg).forwardsDir;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readJson<ForwardRecord>(join(dir, f)))
    .filter((r): r is ForwardRecord => r !== null)
    .map((r) => ({ ...r, alive: isOurs(cfg, r) }));
}
