// CPU time used by a process and its direct children (nginx: master + workers; haproxy: one
// process, all threads), from /proc. On a busy machine rates swing with the neighbours' load;
// the CPU a middle box spends per connection does not, so it is the steadier comparison.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** utime + stime of one pid in ms, and its parent pid; null when it is gone. */
function stat(pid: number): { ms: number; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces, closed by the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

/** CPU ms of `pid` plus every process whose parent it is. */
export function treeCpuMs(pid: number): number {
  let total = stat(pid)?.ms ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s && s.ppid === pid) total += s.ms;
  }
  return total;
}
