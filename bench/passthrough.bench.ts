// SNI passthrough against HAProxy: new TLS handshakes per second and p50/p99 latency of one
// small HTTPS GET (the lab demo service), side by side in one run, through
//   passthrough  client → nginx passthrough (rendered) → lab proxy → backend
//   haproxy      client → Debian's haproxy, configured equivalently → lab proxy → backend
//   direct       client → lab proxy → backend; the client writes the PROXY v2 header itself,
//                from the passthrough's address (the one the proxy trusts), so the proxy
//                sees the same connection it gets through a passthrough.
// Everything runs on 127.0.86.0/24. Rounds alternate the three paths so the machine's load
// drifts over all of them alike. Throughput is measured with CONCURRENCY connections in
// flight; latency separately with one connection at a time, the three paths taken in turn
// request by request, so it is each path's own cost, not queueing, under the same load.
// Targets (issue 8): passthrough ≥ 0.9× haproxy's rate, < 1 ms added at p99 over direct.
import { join } from 'node:path';
import { loadSite } from '../tasks/lib/model/index';
import { startLoopbackProxies } from '../test/helpers/loopback-proxies';
import { treeCpuMs } from './lib/cpu';
import { startHaproxy } from './lib/haproxy';
import { runInterleaved, runLoad, type LoadResult, type LoadTarget } from './lib/load';
import { proxyV2Header } from './lib/proxy-protocol';
import { percentile, table } from './lib/stats';

const NET = '127.0.86';
const HTTP_PORT = 29080;
const HTTPS_PORT = 29443;
const HAPROXY_PORT = 29444;
const SERVICE = 'whoami.lab.pegasuspad.com';

const numberFromEnv = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const ROUNDS = numberFromEnv('HOMEPROD_BENCH_ROUNDS', 5);
const CONCURRENCY = numberFromEnv('HOMEPROD_BENCH_CONCURRENCY', 24);
const RATE_MS = numberFromEnv('HOMEPROD_BENCH_RATE_MS', 2000);
const RATE_MAX = 20_000;
const LATENCY_MS = numberFromEnv('HOMEPROD_BENCH_LATENCY_MS', 12_000);
// p99 over 5 x 200 samples is the 10th-slowest request: a few scheduler hiccups on a 2-core VM
// moved it by milliseconds from run to run. 5 x 1,000 samples settle it.
const LATENCY_MAX = numberFromEnv('HOMEPROD_BENCH_LATENCY_MAX', 1000);

type Path = 'passthrough' | 'haproxy' | 'direct';
const PATHS: Path[] = ['passthrough', 'haproxy', 'direct'];

interface Totals {
  rate: LoadResult[];
  latency: LoadResult[];
  /** CPU ms the middle box (passthrough nginx or haproxy) used during the rate runs. */
  cpuMs: number;
}

export async function run(print: (line: string) => void): Promise<void> {
  const root = join(import.meta.dirname, '..');
  const site = loadSite(join(root, 'inventory', 'site.yaml'));
  const proxies = await startLoopbackProxies({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-bench-passthrough-', record: false });
  try {
    const passthrough = proxies.hosts['prod-proxy-passthrough']!;
    const labProxy = proxies.hosts['lab-proxy']!;
    const haproxy = await startHaproxy(site, proxies, HAPROXY_PORT, HTTPS_PORT);
    const nginxConf = proxies.conf('prod', 'prod-proxy-passthrough');
    const middle: Partial<Record<Path, number>> = {
      passthrough: proxies.procs.find((p) => p.spawnargs.includes(nginxConf))?.pid,
      haproxy: haproxy.pid,
    };

    const common = { servername: SERVICE, ca: proxies.ca.lab.pem, expect: `"client":"${proxies.client}"` };
    const targets: Record<Path, LoadTarget> = {
      passthrough: { ...common, host: passthrough, port: HTTPS_PORT, localAddress: proxies.client },
      haproxy: { ...common, host: passthrough, port: HAPROXY_PORT, localAddress: proxies.client },
      direct: {
        ...common,
        host: labProxy,
        port: HTTPS_PORT,
        localAddress: passthrough,
        preamble: proxyV2Header({ address: proxies.client, port: 50000 }, { address: labProxy, port: HTTPS_PORT }),
      },
    };

    print(`${ROUNDS} rounds; rate: ${CONCURRENCY} connections in flight, ${RATE_MS} ms or ${RATE_MAX} handshakes per path and round;`);
    print(`latency: one connection at a time, paths in turn, ${LATENCY_MS} ms or ${LATENCY_MAX} requests per path and round. TLS 1.3, P-256 certificates, no resumption.`);
    // Warm up: first handshakes pay for lazy initialisation in nginx, haproxy and node.
    for (const path of PATHS) {
      const warm = await runLoad(targets[path], { concurrency: 4, maxRequests: 100, maxMs: 3000 });
      if (warm.ok === 0) throw new Error(`${path}: no request succeeded: ${warm.firstError ?? 'no answer'}`);
    }
    const totals = Object.fromEntries(PATHS.map((path): [Path, Totals] => [path, { rate: [], latency: [], cpuMs: 0 }])) as Record<Path, Totals>;
    const cpu = (path: Path) => {
      const pid = middle[path];
      return pid === undefined ? 0 : treeCpuMs(pid);
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no path always runs first (or last) on a busy machine.
      const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!);
      for (const path of order) {
        const before = cpu(path);
        totals[path].rate.push(await runLoad(targets[path], { concurrency: CONCURRENCY, maxRequests: RATE_MAX, maxMs: RATE_MS }));
        totals[path].cpuMs += cpu(path) - before;
      }
      const single = await runInterleaved(order.map((path) => targets[path]), { maxRequests: LATENCY_MAX, maxMs: LATENCY_MS });
      order.forEach((path, i) => totals[path].latency.push(single[i]!));
    }

    const figures = Object.fromEntries(PATHS.map((path) => [path, summarize(totals[path])])) as Record<Path, ReturnType<typeof summarize>>;
    const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '-');
    const rows = PATHS.map((path) => {
      const f = figures[path];
      return [
        path,
        f.rate.toFixed(0),
        `${(f.rate / figures.haproxy.rate).toFixed(2)}×`,
        ms(f.loadedP50),
        ms(f.loadedP99),
        ms(f.p50),
        ms(f.p99),
        middle[path] === undefined ? '-' : `${f.cpuUsPerConnection.toFixed(0)} us`,
        String(f.failed),
      ];
    });
    for (const line of table(['path', 'handshakes/s', 'vs haproxy', `p50 @${CONCURRENCY}`, `p99 @${CONCURRENCY}`, 'p50 @1', 'p99 @1', 'CPU/conn', 'failed'], rows)) print(line);
    const ratio = figures.passthrough.rate / figures.haproxy.rate;
    const added = figures.passthrough.p99 - figures.direct.p99;
    const addedHaproxy = figures.haproxy.p99 - figures.direct.p99;
    print(`CPU/conn: CPU time of the middle box (nginx master+workers, or haproxy) per connection during the rate runs`);
    print(`passthrough rate vs haproxy: ${ratio.toFixed(2)}× (target ≥ 0.90×: ${ratio >= 0.9 ? 'met' : 'missed'})`);
    print(`added p99 (one at a time) vs direct: passthrough ${added.toFixed(2)} ms (target < 1 ms: ${added < 1 ? 'met' : 'missed'}), haproxy ${addedHaproxy.toFixed(2)} ms`);
    print(`added p50 (one at a time) vs direct: passthrough ${(figures.passthrough.p50 - figures.direct.p50).toFixed(2)} ms, haproxy ${(figures.haproxy.p50 - figures.direct.p50).toFixed(2)} ms`);
    const failures = PATHS.flatMap((path) => [...totals[path].rate, ...totals[path].latency].filter((r) => r.firstError).map((r) => `${path}: ${r.firstError}`));
    for (const line of [...new Set(failures)].slice(0, 5)) print(`error seen: ${line}`);
  } finally {
    await proxies.stop();
  }
}

function summarize(t: Totals) {
  const ok = t.rate.reduce((n, r) => n + r.ok, 0);
  const seconds = t.rate.reduce((n, r) => n + r.elapsedMs, 0) / 1000;
  const loaded = t.rate.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const single = t.latency.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    rate: ok / seconds,
    cpuUsPerConnection: (t.cpuMs * 1000) / Math.max(1, t.rate.reduce((n, r) => n + r.ok + r.failed, 0)),
    loadedP50: percentile(loaded, 50),
    loadedP99: percentile(loaded, 99),
    p50: percentile(single, 50),
    p99: percentile(single, 99),
    failed: [...t.rate, ...t.latency].reduce((n, r) => n + r.failed, 0),
  };
}
