// Synthesis time: the whole Pegasus site (both stages) and a generated 200-VM site, in-process
// (what `up` pays), plus the cost the creation-stack switch in synthStage avoids.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdktn';
import { buildStacks, synthStage } from '../stacks/main';
import { loadSite, type Site } from '../tasks/lib/model/index';
import { HostKeyStore } from '../tasks/lib/shared/host-keys';
import { manyHostsSite } from '../test/helpers/site-fixture';

// Host keys and snippets as `up` makes them: a real store (keys made on the first run, read after).
const optionsFor = (out: string) => ({
  stateDir: '/var/lib/homeprod-bench/state',
  authorizedKeys: [],
  platform: 'proxmox' as const,
  hostKeys: new HostKeyStore(join(out, 'hostkeys')).source,
  snippetDir: join(out, 'snippets'),
});

function timeIt(fn: () => void, runs = 3): number {
  fn(); // warm: module loading and template compilation are paid once per process
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return Math.min(...times);
}

function synthSite(site: Site, out: string): number {
  let stacks = 0;
  for (const stage of ['lab', 'prod'] as const) stacks += synthStage(site, stage, { ...optionsFor(out), outdir: out }).stacks.length;
  return stacks;
}

/** Same synthesis with creation stack traces on, to show what the switch saves. */
function synthWithTraces(site: Site, out: string): void {
  for (const stage of ['lab', 'prod'] as const) {
    const app = new App({ outdir: join(out, `traces-${stage}`), stackTraces: true });
    buildStacks(app, site, stage, optionsFor(out));
    app.synth();
  }
}

export async function run(print: (line: string) => void): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'homeprod-bench-synth-'));
  try {
    const pegasus = loadSite(join(import.meta.dirname, '..', 'inventory', 'site.yaml'));
    const big = manyHostsSite(200);
    let n = 0;
    const tPegasus = timeIt(() => { n = synthSite(pegasus, out); });
    print(`synth  Pegasus site, both stages (${n} stacks)      ${tPegasus.toFixed(0).padStart(6)} ms`);
    const tBig = timeIt(() => { n = synthSite(big, out); }, 1);
    print(`synth  generated site, both stages (${n} stacks)   ${tBig.toFixed(0).padStart(6)} ms`);
    const tTraces = timeIt(() => synthWithTraces(pegasus, out), 1);
    print(`synth  Pegasus site with creation stack traces   ${tTraces.toFixed(0).padStart(6)} ms (what CDKTN_DISABLE_CREATION_STACK avoids)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === (await import('node:path')).resolve(process.argv[1])) {
  await run((line) => console.log(line));
}
