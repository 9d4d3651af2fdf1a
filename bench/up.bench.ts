// `up` as a user runs it, on the local platform: the first `up` of both stages from nothing
// (the image cached), then no-op runs (inputs unchanged, plans empty: only verify). Its own
// prefix, state root, synth directory and loopback ports; everything is cleaned after.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { $ } from 'zx';

const ROOT = resolve(import.meta.dirname, '..');
const NOOP_RUNS = 3;

export async function run(print: (line: string) => void): Promise<void> {
  const work = mkdtempSync(join(ROOT, '.state-bench-up-'));
  const env = { ...process.env, CI: '1', HOMEPROD_NS_PREFIX: 'hpbench', HOMEPROD_STATE_ROOT: join(work, 'state'), HOMEPROD_CDKTF_OUT: 'cdktf.out.bench-up' };
  const site = join(work, 'site.yaml');
  const doc = parseDocument(readFileSync(join(ROOT, 'inventory', 'site.yaml'), 'utf8'));
  doc.setIn(['stages', 'prod', 'forward', 'httpPort'], 48080);
  doc.setIn(['stages', 'prod', 'forward', 'httpsPort'], 48443);
  writeFileSync(site, doc.toString());
  const up = async (what: string) => {
    const start = performance.now();
    const r = await $({ cwd: ROOT, env, nothrow: true, quiet: true })`npx --no-install tsx tasks/up.ts --yes --site ${site}`;
    const seconds = (performance.now() - start) / 1000;
    if (r.exitCode !== 0) throw new Error(`${what}: up exited ${r.exitCode}\n${r.stderr.slice(-2000)}`);
    print(`${what.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s`);
    return seconds;
  };
  try {
    await up('up from nothing, both stages (image cached)');
    const noops: number[] = [];
    for (let i = 1; i <= NOOP_RUNS; i++) noops.push(await up(`no-op up ${i}/${NOOP_RUNS} (only verify)`));
    print(`no-op up, best of ${NOOP_RUNS}                         ${Math.min(...noops).toFixed(1).padStart(7)} s`);
  } finally {
    await $({ cwd: ROOT, env, nothrow: true, quiet: true })`npx --no-install tsx tasks/local.ts clean --destroy-data`;
    rmSync(work, { recursive: true, force: true });
    rmSync(join(ROOT, env.HOMEPROD_CDKTF_OUT), { recursive: true, force: true });
  }
}
