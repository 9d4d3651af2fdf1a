// How the passthrough's nginx settings were chosen: `npx tsx bench/lib/tune-passthrough.ts`.
// Runs the rendered passthrough with one setting changed at a time (edits of the rendered
// files, nothing in templates/), each variant interleaved with HAProxy in the same rounds, so
// every variant is judged by its ratio to HAProxy under the same machine load. Not part of
// `npm run bench` (it takes a few minutes); its figures are quoted in the README.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model/index';
import { startLoopbackProxies, startNginx, stopProcess } from '../../test/helpers/loopback-proxies';
import { treeCpuMs } from './cpu';
import { startHaproxy } from './haproxy';
import { runLoad, type LoadResult, type LoadTarget } from './load';
import { percentile, table } from './stats';

const NET = '127.0.88';
const HTTP_PORT = 31080;
const HTTPS_PORT = 31443;
const HAPROXY_PORT = 31444;
const ROUNDS = Number(process.env.HOMEPROD_BENCH_ROUNDS ?? 6);
const CONCURRENCY = Number(process.env.HOMEPROD_BENCH_CONCURRENCY ?? 24);
const RATE_MS = 1500;

interface Variant {
  name: string;
  /** Edits of nginx.conf and homeprod/stream/passthrough.conf as rendered. */
  main?: (text: string) => string;
  stream?: (text: string) => string;
}

const listenLine = /^(\s*listen \S+?:\d+)(;)$/m;
const VARIANTS: Variant[] = [
  { name: 'as rendered' },
  { name: 'worker_processes 1', main: (t) => t.replace(/worker_processes \w+;/, 'worker_processes 1;') },
  { name: 'listen reuseport', stream: (t) => t.replace(listenLine, '$1 reuseport$2') },
  { name: 'multi_accept on', main: (t) => t.replace(/(events \{\n)/, '$1    multi_accept on;\n') },
  { name: 'access_log buffer=64k', stream: (t) => t.replace(/(access_log \S+ homeprod_passthrough);/, '$1 buffer=64k flush=1s;') },
  { name: 'access_log off', stream: (t) => t.replace(/access_log \S+ homeprod_passthrough;/, 'access_log off;') },
  {
    name: 'reuseport + multi_accept',
    main: (t) => t.replace(/(events \{\n)/, '$1    multi_accept on;\n'),
    stream: (t) => t.replace(listenLine, '$1 reuseport$2'),
  },
  { name: 'proxy_buffer_size 4k', stream: (t) => t.replace(/(proxy_timeout \S+;)/, '$1\n    proxy_buffer_size 4k;') },
];

const site = loadSite(join(import.meta.dirname, '..', '..', 'inventory', 'site.yaml'));
const proxies = await startLoopbackProxies({ site, net: NET, httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, prefix: 'homeprod-tune-', record: false });
try {
  const passthrough = proxies.hosts['prod-proxy-passthrough']!;
  const haproxy = await startHaproxy(site, proxies, HAPROXY_PORT, HTTPS_PORT);

  const mainConf = proxies.conf('prod', 'prod-proxy-passthrough');
  const streamConf = join(mainConf, '..', 'homeprod', 'stream', 'passthrough.conf');
  for (const file of [mainConf, streamConf]) copyFileSync(file, `${file}.rendered`);
  const common = { servername: 'whoami.lab.pegasuspad.com', ca: proxies.ca.lab.pem, expect: `"client":"${proxies.client}"`, localAddress: proxies.client };
  const ours: LoadTarget = { ...common, host: passthrough, port: HTTPS_PORT };
  const theirs: LoadTarget = { ...common, host: passthrough, port: HAPROXY_PORT };

  // Every round runs every variant (restarting the passthrough with it) next to HAProxy, so
  // slow drifts in the machine's load spread over all variants alike.
  const only = process.env.HOMEPROD_TUNE_VARIANTS?.split(',');
  const variants = VARIANTS.filter((v) => !only || only.includes(v.name));
  const results = variants.map(() => ({ mine: [] as LoadResult[], ref: [] as LoadResult[], single: [] as LoadResult[], cpu: { ours: 0, theirs: 0 } }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, variant] of variants.entries()) {
      const r = results[index]!;
      const current = proxies.procs.findLast((p) => p.spawnargs.includes(mainConf));
      if (current) await stopProcess(current);
      writeFileSync(mainConf, (variant.main ?? ((t) => t))(readFileSync(`${mainConf}.rendered`, 'utf8')));
      writeFileSync(streamConf, (variant.stream ?? ((t) => t))(readFileSync(`${streamConf}.rendered`, 'utf8')));
      const nginx = await startNginx(mainConf, passthrough, HTTPS_PORT, proxies.procs);
      await runLoad(ours, { concurrency: 4, maxRequests: 50, maxMs: 1000 });
      const pair = round % 2 === 0 ? [ours, theirs] : [theirs, ours];
      for (const target of pair) {
        const pid = target === ours ? nginx.pid! : haproxy.pid!;
        const before = treeCpuMs(pid);
        (target === ours ? r.mine : r.ref).push(await runLoad(target, { concurrency: CONCURRENCY, maxRequests: 20_000, maxMs: RATE_MS }));
        r.cpu[target === ours ? 'ours' : 'theirs'] += treeCpuMs(pid) - before;
      }
      r.single.push(await runLoad(ours, { concurrency: 1, maxRequests: 100, maxMs: 1500 }));
    }
    console.log(`round ${round + 1} of ${ROUNDS} done`);
  }
  const rate = (rs: LoadResult[]) => rs.reduce((n, r) => n + r.ok, 0) / (rs.reduce((n, r) => n + r.elapsedMs, 0) / 1000);
  const perConnection = (ms: number, rs: LoadResult[]) => `${((ms * 1000) / rs.reduce((n, r) => n + r.ok + r.failed, 0)).toFixed(0)} us`;
  const sorted = (rs: LoadResult[]) => rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const rows = variants.map((variant, index) => {
    const { mine, ref, single, cpu } = results[index]!;
    return [
      variant.name,
      rate(mine).toFixed(0),
      rate(ref).toFixed(0),
      `${(rate(mine) / rate(ref)).toFixed(2)}×`,
      perConnection(cpu.ours, mine),
      perConnection(cpu.theirs, ref),
      `${percentile(sorted(mine), 50).toFixed(1)} ms`,
      `${percentile(sorted(mine), 99).toFixed(1)} ms`,
      `${percentile(sorted(single), 50).toFixed(2)} ms`,
      `${percentile(sorted(single), 99).toFixed(2)} ms`,
      String([...mine, ...single].reduce((n, r) => n + r.failed, 0)),
    ];
  });
  for (const line of table(['variant', 'ours/s', 'haproxy/s', 'ratio', 'CPU/conn', 'haproxy CPU/conn', `p50 @${CONCURRENCY}`, `p99 @${CONCURRENCY}`, 'p50 @1', 'p99 @1', 'failed'], rows)) console.log(line);
} finally {
  await proxies.stop();
}
