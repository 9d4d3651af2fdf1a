// The most common change to a homelab, timed: add a service, modify one, remove one. For each,
// `up --stage lab` and then the promotion (`up --stage prod`) are timed separately, as the
// selective configure runs them; then the change is undone and made again with `--full` (every
// play on every host), the figure to compare with. Goal: each stage under 8 s, no-op up under
// 3 s. On the local platform, with its own prefix, state root, synth directory and ports.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Document, parseDocument } from 'yaml';
import { $ } from 'zx';

const ROOT = resolve(import.meta.dirname, '..');

type Edit = (doc: Document) => void;

interface Change {
  what: string;
  apply: Edit;
  undo: Edit;
}

const services = (doc: Document) => doc.get('services') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }>; add(v: unknown): void; delete(i: number): boolean };
const indexOf = (doc: Document, name: string) => services(doc).items.findIndex((s) => s.get('name') === name);
const bench = (name: string, port = 8080) => ({ name, stage: 'lab', hostnames: [`${name}.lab.pegasuspad.com`], upstream: { host: 'lab-whoami', port } });
const labAndProd = (name: string) => [bench(name), { name: `${name}-prod`, stage: 'prod', hostnames: [`${name}.pegasuspad.com`], upstream: { host: 'prod-whoami', port: 8080 } }];

const CHANGES: Change[] = [
  {
    what: 'add a service',
    apply: (doc) => labAndProd('notes').forEach((s) => services(doc).add(doc.createNode(s))),
    undo: (doc) => ['notes-prod', 'notes'].forEach((n) => services(doc).delete(indexOf(doc, n))),
  },
  {
    what: 'modify a service (body size)',
    apply: (doc) => ['wiki', 'wiki-prod'].forEach((n) => services(doc).items[indexOf(doc, n)]!.set('maxBodySize', '50m')),
    undo: (doc) => ['wiki', 'wiki-prod'].forEach((n) => services(doc).items[indexOf(doc, n)]!.set('maxBodySize', '10m')),
  },
  {
    what: 'remove a service',
    apply: (doc) => ['wiki-prod', 'wiki'].forEach((n) => services(doc).delete(indexOf(doc, n))),
    undo: (doc) => labAndProd('wiki').forEach((s) => services(doc).add(doc.createNode({ ...s, maxBodySize: '10m' }))),
  },
];

export async function run(print: (line: string) => void): Promise<void> {
  const work = mkdtempSync(join(ROOT, '.state-bench-change-'));
  const env = { ...process.env, CI: '1', HOMEPROD_NS_PREFIX: 'hpchg', HOMEPROD_STATE_ROOT: join(work, 'state'), HOMEPROD_CDKTF_OUT: 'cdktf.out.bench-change' };
  const site = join(work, 'site.yaml');
  const edit = (change: Edit) => {
    const doc = parseDocument(readFileSync(site, 'utf8'));
    change(doc);
    writeFileSync(site, doc.toString());
  };
  const up = async (...args: string[]) => {
    const start = performance.now();
    const r = await $({ cwd: ROOT, env, nothrow: true, quiet: true })`npx --no-install tsx tasks/up.ts --yes --site ${site} ${args}`;
    if (r.exitCode !== 0) throw new Error(`up ${args.join(' ')} exited ${r.exitCode}\n${r.stderr.slice(-2000)}`);
    return (performance.now() - start) / 1000;
  };
  const stages = async (...flags: string[]) => [await up('--stage', 'lab', ...flags), await up('--stage', 'prod', ...flags)] as const;
  const seconds = (s: number) => `${s.toFixed(1).padStart(5)} s`;

  const doc = parseDocument(readFileSync(join(ROOT, 'inventory', 'site.yaml'), 'utf8'));
  doc.setIn(['stages', 'prod', 'forward', 'httpPort'], 48180);
  doc.setIn(['stages', 'prod', 'forward', 'httpsPort'], 48543);
  labAndProd('wiki').forEach((s) => services(doc).add(doc.createNode({ ...s, maxBodySize: '10m' })));
  writeFileSync(site, doc.toString());
  try {
    print(`up from nothing, both stages (image cached)   ${seconds(await up())}`);
    print('change                          only what changed (lab / prod)   full configure (lab / prod)');
    for (const change of CHANGES) {
      edit(change.apply);
      const [lab, prod] = await stages();
      edit(change.undo);
      await stages();
      edit(change.apply);
      const [fullLab, fullProd] = await stages('--full');
      print(`${change.what.padEnd(31)} ${seconds(lab)} / ${seconds(prod)}                ${seconds(fullLab)} / ${seconds(fullProd)}`);
    }
    const noops = [await up(), await up(), await up()];
    print(`no-op up, best of 3                             ${seconds(Math.min(...noops))}`);
  } finally {
    await $({ cwd: ROOT, env, nothrow: true, quiet: true })`npx --no-install tsx tasks/local.ts clean --destroy-data`;
    rmSync(work, { recursive: true, force: true });
    rmSync(join(ROOT, env.HOMEPROD_CDKTF_OUT), { recursive: true, force: true });
  }
}
