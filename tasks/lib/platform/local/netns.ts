// Network namespaces and links: `ip` without a shell, and which processes live where.
import { execFile } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { sh } from '../../shared/process';

/** Pids whose network namespace is /run/netns/<ns>; [] when the namespace does not exist. */
export async function netnsPids(ns: string): Promise<number[]> {
  const r = await sh`ip netns pids ${ns}`.nothrow();
  if (r.exitCode !== 0) return [];
  return r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
}

/** Whether `pid` lives in the named network namespace (/run/netns/<ns>). */
export function inNetns(pid: number, ns: string): boolean {
  try {
    const ino = statSync(`/run/netns/${ns}`).ino;
    return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`;
  } catch {
    return false;
  }
}

/**
 * `ip` without a shell in between (it runs many times per machine). With `batch`, one `ip`
 * process applies several commands (`ip -batch -`), each line one command.
 */
export async function ipOk(args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile('ip', args, (error) => resolve(!error)));
}

export async function ip(args: string[], batch?: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', batch ? [...args, '-batch', '-'] : args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`ip ${[...args, ...(batch ? ['-batch', '-'] : [])].join(' ')} failed: ${stderr.trim() || error.message}${batch ? `\n${batch.join('\n')}` : ''}`));
      else resolve();
    });
    if (batch) child.stdin?.end(`${batch.join('\n')}\n`);
  });
}
