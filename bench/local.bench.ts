// Local platform: cold (image build + every host of both stages up) and warm (every host up
// from the cached image) wall-clock times, in-process and in parallel as Terraform would
// create them. Targets on a 2-core machine: cold < 3 min, warm < 15 s.
// Its own prefix, state dir and (for the cold run) image cache; everything is cleaned after.
// HOMEPROD_BENCH_COLD=0 skips the cold run (it downloads and builds a whole image).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clean } from '../tasks/lib/platform/local/clean';
import { localConfig, type LocalConfig } from '../tasks/lib/platform/local/config';
import { createDisk } from '../tasks/lib/platform/local/disk';
import { createMachine } from '../tasks/lib/platform/local/machine';
import { preflight } from '../tasks/lib/platform/local/preflight';
import { loadSite } from '../tasks/lib/model/index';
import { localDiskSpec, localVmSpec } from '../test/helpers/local-site';

const quiet = () => {};

async function allHostsUp(cfg: LocalConfig): Promise<number> {
  const site = loadSite(resolve(import.meta.dirname, '..', 'inventory', 'site.yaml'));
  // Loopback ports no one else uses: the bench must not collide with a running site.
  const forward = { address: '127.0.0.1', httpPort: 28080, httpsPort: 28443 };
  for (const host of site.hosts) {
    const disk = localDiskSpec(host);
    if (disk) createDisk(cfg, disk, quiet);
  }
  await Promise.all(site.hosts.map((h) => createMachine(cfg, localVmSpec(site, h, forward), quiet)));
  return site.hosts.length;
}

async function timed(cfg: LocalConfig): Promise<{ seconds: number; hosts: number }> {
  const t = performance.now();
  try {
    const hosts = await allHostsUp(cfg);
    return { seconds: (performance.now() - t) / 1000, hosts };
  } finally {
    await clean(cfg, { destroyData: true }, quiet);
  }
}

export async function run(print: (line: string) => void): Promise<void> {
  await preflight({ say: print });
  const stateDir = mkdtempSync(join(tmpdir(), 'homeprod-bench-local-'));
  const env = { ...process.env, HOMEPROD_NS_PREFIX: 'hpbench', HOMEPROD_STATE_DIR: stateDir };
  try {
    if (process.env.HOMEPROD_BENCH_COLD !== '0') {
      const cacheDir = mkdtempSync(join(tmpdir(), 'homeprod-bench-cache-'));
      try {
        const cold = await timed(localConfig({ ...env, HOMEPROD_CACHE_DIR: cacheDir }));
        print(`cold: image build + ${cold.hosts} hosts up: ${cold.seconds.toFixed(1)} s (target < 180 s)`);
      } finally {
        rmSync(cacheDir, { recursive: true, force: true });
      }
    }
    const cfg = localConfig(env);
    await timed(cfg); // makes sure the default cache holds the image; not reported
    const warm = await timed(cfg);
    print(`warm: ${warm.hosts} hosts up from the cached image: ${warm.seconds.toFixed(1)} s (target < 15 s)`);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
