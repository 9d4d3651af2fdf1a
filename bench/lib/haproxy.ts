// Debian's HAProxy in the passthrough's place, configured like our nginx passthrough: TCP
// mode, wait for the ClientHello (inspect-delay = nginx's preread_timeout), exact service names
// from a map to their stage, then the lab domain suffix to the lab proxy, everything else to
// the prod proxy, with a PROXY protocol v2 header, connecting from the passthrough's address
// (the only one the stage proxies trust for client addresses).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Site, StageName } from '../../tasks/lib/model/types';
import { startListening, type LoopbackProxies } from '../../test/helpers/loopback-proxies';

export interface HaproxyPlan {
  site: Site;
  listen: { address: string; port: number };
  /** Source address of connections to the stage proxies. */
  bind: string;
  /** Stage proxy address:port per stage. */
  proxies: Record<StageName, string>;
  prereadSeconds: number;
  dir: string;
}

/** Writes haproxy.cfg and its name map into plan.dir; returns the config's path. */
export function writeHaproxyConfig(plan: HaproxyPlan): string {
  const map = join(plan.dir, 'names.map');
  const names = plan.site.services.flatMap((s) => s.hostnames.map((h) => `${h.toLowerCase()} stage_${s.stage}`)).sort();
  writeFileSync(map, `${names.join('\n')}\n`);
  const lab = plan.site.labDomain;
  const backend = (stage: StageName) => [`backend stage_${stage}`, `    source ${plan.bind}`, `    server ${stage}-proxy ${plan.proxies[stage]} send-proxy-v2`];
  const config = [
    'global',
    // As nginx's worker_processes auto: one thread per core.
    `    nbthread ${availableParallelism()}`,
    '    maxconn 8192',
    '',
    'defaults',
    '    mode tcp',
    '    timeout connect 5s',
    '    timeout client 1h',
    '    timeout server 1h',
    '',
    'frontend passthrough',
    `    bind ${plan.listen.address}:${plan.listen.port}`,
    `    tcp-request inspect-delay ${plan.prereadSeconds}s`,
    '    tcp-request content accept if { req.ssl_hello_type 1 }',
    '    tcp-request content reject',
    `    use_backend %[req.ssl_sni,lower,map(${map})] if { req.ssl_sni,lower,map(${map}) -m found }`,
    `    use_backend stage_lab if { req.ssl_sni -i -m end .${lab} } || { req.ssl_sni -i ${lab} }`,
    '    default_backend stage_prod',
    '',
    ...backend('lab'),
    '',
    ...backend('prod'),
    '',
  ];
  const file = join(plan.dir, 'haproxy.cfg');
  writeFileSync(file, config.join('\n'));
  return file;
}

/**
 * HAProxy beside the loopback passthrough, on its address and `port`, in front of the same stage
 * proxies; checked with `haproxy -c` first, and stopped with the proxies.
 */
export async function startHaproxy(site: Site, proxies: LoopbackProxies, port: number, httpsPort: number): Promise<ChildProcess> {
  const passthrough = proxies.hosts['prod-proxy-passthrough']!;
  const dir = join(proxies.dir, 'haproxy');
  mkdirSync(dir);
  const cfg = writeHaproxyConfig({
    site,
    listen: { address: passthrough, port },
    bind: passthrough,
    proxies: { lab: `${proxies.hosts['lab-proxy']}:${httpsPort}`, prod: `${proxies.hosts['prod-proxy']}:${httpsPort}` },
    prereadSeconds: 5,
    dir,
  });
  const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c: ${check.stderr || check.stdout}`);
  return startListening('haproxy', ['-db', '-f', cfg], passthrough, port, proxies.procs);
}
