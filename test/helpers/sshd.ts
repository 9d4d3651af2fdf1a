// A real OpenSSH server for tests, on loopback or inside a network namespace the test made,
// with a host key and authorized keys the test chooses; and a real ssh-agent holding a key.
// Both are stopped by the test (also when it fails).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { $ } from 'zx';
import type { HostKeyPair } from '../../tasks/lib/shared/host-keys';

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface TestSshd {
  address: string;
  port: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** sshd -D on address:port (inside `netns` when given), logging to stderr, until stop(). */
export async function startSshd(dir: string, opts: { address: string; port: number; hostKey: HostKeyPair; authorizedKeys: string[]; netns?: string }): Promise<TestSshd> {
  mkdirSync(dir, { recursive: true });
  // Its privilege-separation directory, which the package's service would create.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'host_key'), opts.hostKey.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), opts.authorizedKeys.map((k) => `${k}\n`).join(''), { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${opts.address}:${opts.port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const argv = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
  const child = opts.netns ? spawn('ip', ['netns', 'exec', opts.netns, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Server listening on/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`sshd did not start: ${log}`);
    }
    await sleep(50);
  }
  return { address: opts.address, port: opts.port, stop: () => stopChild(child) };
}

export interface TestAgent {
  /** SSH_AUTH_SOCK */
  sock: string;
  stop(): Promise<void>;
}

/** ssh-agent -D on a socket in `dir`, holding the private key file given. */
export async function startAgent(dir: string, keyFile: string): Promise<TestAgent> {
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (!existsSync(sock)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('ssh-agent did not start');
    await sleep(20);
  }
  await $({ env: { ...process.env, SSH_AUTH_SOCK: sock }, quiet: true })`ssh-add -q ${keyFile}`;
  return { sock, stop: () => stopChild(child) };
}
