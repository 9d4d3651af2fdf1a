// What the local platform has right now, one line per machine, disk and forward.
import { existsSync, readdirSync } from 'node:fs';
import { type LocalConfig, paths } from './config';
import { listDisks } from './disk';
import { listForwards } from './forward';
import { machineState } from './machine';
import { machineSpec } from './ssh';

export async function statusLines(cfg: LocalConfig): Promise<string[]> {
  const p = paths(cfg);
  const lines: string[] = [`state ${cfg.stateDir}, prefix ${cfg.nsPrefix}`];
  const hosts = existsSync(p.vmsDir) ? readdirSync(p.vmsDir).sort() : [];
  if (hosts.length === 0) lines.push('no machines');
  for (const host of hosts) {
    const spec = machineSpec(cfg, host);
    const state = await machineState(cfg, host);
    const disks = spec?.dataDisks.map((d) => `${d.owner}/${d.label}→${d.mountpoint}${d.readOnly ? ' (ro)' : ''}`).join(', ') || 'no data disks';
    lines.push(`${host.padEnd(24)} ${(spec?.stage ?? '?').padEnd(5)} ${(spec?.ipv4 ?? '?').padEnd(15)} ${state.padEnd(10)} ${disks}`);
  }
  for (const d of listDisks(cfg)) lines.push(`disk ${d.name}: ${d.disks.map((x) => `${x.label} (${x.size} GiB)`).join(', ')}`);
  for (const f of listForwards(cfg)) lines.push(`forward ${f.address}:${f.port} → ${f.targetIp}:${f.targetPort} ${f.alive ? 'up' : 'down'}`);
  return lines;
}
