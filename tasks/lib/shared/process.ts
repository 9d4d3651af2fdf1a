// Processes: run a command, start one that outlives us, and find and kill what we started.
// Every layer may use these; the network-namespace helpers are the local platform's (netns.ts).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { $ } from 'zx';

/** zx without echoing commands: output is for errors and the caller decides what to print. */
export const sh = $({ quiet: true, verbose: false });

/** Whether a process lives; a killed one lingering as a zombie until reaped does not. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc: trust the signal probe
  }
}

/** The argv of a running process, or null when it is gone. */
export function cmdline(pid: number): string[] | null {
  // A zombie's command line reads as empty; it is gone all the same.
  if (!pidAlive(pid)) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/** Every pid on the machine (root's view), read from /proc. */
export function allPids(): number[] {
  try {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return [];
  }
}

/**
 * SIGKILLs the pids and waits until they are gone (bounded). SIGKILL, not SIGTERM: what is
 * killed here is thrown away, and a killed pid-namespace init takes its whole guest along.
 */
export async function killAndWait(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(pidAlive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = left.filter((pid) => pidAlive(pid) && !isZombie(pid));
  }
  return left;
}

function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\)/, ''));
  } catch {
    return false;
  }
}

/**
 * Starts a process in its own session with output appended to `logFile`, not tied to us:
 * it keeps running after the calling terraform (and its process group) exits.
 */
export function spawnDetached(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

