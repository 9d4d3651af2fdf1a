// Generated hostile sites through check, render and nginx -t: whatever check accepts renders
// into configs nginx accepts, with no directive the site did not ask for, and inventories
// with no template syntax. Seeded, so a failure names a case that replays.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { validateSite } from '../../tasks/lib/model';
import type { Site, StageName } from '../../tasks/lib/model/types';
import { writeTree } from '../../tasks/lib/render/files';
import { outputsFromModel, renderFiles } from '../../tasks/lib/render/index';
import { shape, statements } from '../helpers/nginx-statements';
import { issueCertificate, makeCa, nginxTest, scratchDir, shareCertificate, testRuntime } from '../helpers/render-nginx';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const CASES = 240;
const SEED = 0x5eed16;

/** mulberry32: small, fast and the same on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HARMLESS_LINES = [
  'add_header X-Fuzz 1;',
  'add_header X-Frame-Options "SAMEORIGIN" always;',
  'proxy_set_header X-Custom $host;',
  'proxy_read_timeout 90s;',
  'proxy_buffering off;',
  'gzip on;',
  'expires 1h;',
  "add_header X-Quote 'a\\'b';",
  'proxy_hide_header X-Powered-By;',
  'set $fuzz_hint 1;',
  'client_body_buffer_size 64k;',
  'add_header X-Hash "#1";',
];
const DENIED_LINES = [
  'include /etc/nginx/mime.types;', 'alias /etc/;', 'root /;', 'autoindex on;', 'server_name evil.example;', 'listen 9999;',
  'ssl_certificate /x;', 'proxy_pass http://127.0.0.1:22;', 'access_log /etc/x;', 'set_real_ip_from 0.0.0.0/0;',
  'load_module x.so;', 'set $homeprod_upstream x;', 'error_log /etc/x;', 'content_by_lua_block x;', 'js_content x;',
];
/**
 * What an attacker puts into a value to leave its place: blocks, terminators, quotes, comments,
 * escapes, line breaks and template syntax. (Words that only give a directive arguments it does
 * not take are nginx's to refuse: configure runs nginx -t before any reload and keeps the
 * running config, see the README.)
 */
const BREAKOUTS = [
  '}', '{', ';', '; } location /x { return 200 pwn', '\n', '#', '"', "'", '{{ 7*7 }}', '{% raw %}', '{# c #}', '${x}', '%{x}',
  '\\', '; autoindex on', '; include /etc/passwd', ' $homeprod_upstream', '\u0000', '\r', '\t',
];
/** Besides, for paths and names: parts that change what a path or pattern means. */
const PATH_PARTS = [' ', '..', '/../', '*', '?', '[a]', '/', '//', '~'];
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPnNU65c+16ALPFGvZw1K2zzOVzIL6xSZMMM9wB3vuzq pegasus@workstation';
const ADDRESSES = ['10.111.1.30', '10.111.1.11', '10.111.1.10', '10.111.2.30', '127.0.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.1', '192.168.7.9', '10.111.1.255'];
const SIZES = ['0', '10m', '512k', '1024g', '1025g', '99999999999g', '10x', '-1', '1e3', ' 10m'];

function fuzzer(seed: number) {
  const r = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const inject = (value: string, fragments: readonly string[]) => {
    const at = Math.floor(r() * (value.length + 1));
    return value.slice(0, at) + pick(fragments) + value.slice(at);
  };
  const line = () => {
    const roll = r();
    return roll < 0.5 ? pick(HARMLESS_LINES) : roll < 0.7 ? pick(DENIED_LINES) : inject(pick(HARMLESS_LINES), BREAKOUTS);
  };
  const maybe = (value: string) => (r() < 0.5 ? value : inject(value, [...BREAKOUTS, ...PATH_PARTS]));
  const service = (s: Raw) => pick(s.services as Raw[]);
  const mutations: Array<(s: Raw) => void> = [
    (s) => (service(s).extraLocationLines = Array.from({ length: 1 + Math.floor(r() * 3) }, line)),
    (s) => (service(s).extraLocationLines = Array.from({ length: 1 + Math.floor(r() * 3) }, line)),
    (s) => (s.users[0].sshKeys = [maybe(KEY)]),
    (s) => (s.stages.lab.tls = { mode: 'files', filesDir: maybe('/srv/tls') }),
    (s) => (s.stages.lab.tls = { mode: 'acme', acmeDirectory: maybe('https://acme.example/dir') }),
    (s) => (s.hosts.find((h: Raw) => h.name === 'lab-ansible').dataDisks[0].mountpoint = maybe('/srv/ansible')),
    (s) => (service(s).certificate = r() < 0.5 ? maybe('apps.pegasuspad.com') : 'c'.repeat(100 + Math.floor(r() * 60))),
    (s) => {
      const svc = service(s);
      const labels = Array.from({ length: 1 + Math.floor(r() * 4) }, () => 'h'.repeat(20 + Math.floor(r() * 44)));
      svc.hostnames = [[...labels, ...(svc.stage === 'lab' ? ['lab'] : []), 'pegasuspad.com'].join('.')];
    },
    (s) => (service(s).maxBodySize = pick(SIZES)),
    (s) => (s.services[0].upstream = { address: pick(ADDRESSES), port: 8080 }),
    (s) => (service(s).name = 's'.repeat(1 + Math.floor(r() * 80))),
    (s) => (s.stages.lab.datastores.hdd = maybe('tank')),
    (s) => (s.users[0].name = maybe('pegasus')),
  ];
  return (site: Raw) => {
    const count = 1 + Math.floor(r() * 3);
    for (let i = 0; i < count; i++) pick(mutations)(site);
  };
}

describe('generated hostile sites', () => {
  let dir: string;
  let certDir: string;
  const pegasus = readFileSync('inventory/site.yaml', 'utf8');

  beforeAll(() => {
    dir = scratchDir('homeprod-fuzz-');
    certDir = issueCertificate(makeCa(join(dir, 'ca')), join(dir, 'issued'), ['fuzz.pegasuspad.com']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Every certificate the stage proxies load exists (one key pair: nginx -t does not match names). */
  function tlsDirFor(site: Site): string {
    const tlsDir = join(dir, 'tls');
    mkdirSync(tlsDir, { recursive: true });
    for (const s of site.services) if (!existsSync(join(tlsDir, s.certificate))) shareCertificate(certDir, tlsDir, s.certificate);
    return tlsDir;
  }

  const strip = (site: Site, lines: (s: Site['services'][number]) => string[]): Site => ({ ...site, services: site.services.map((s) => ({ ...s, extraLocationLines: lines(s) })) });

  /** Statement shapes per file kind (a certificate's file stands for all of them). */
  function shapes(files: Map<string, string>): Set<string> {
    const result = new Set<string>();
    for (const [path, text] of files) {
      if (!path.includes('/nginx/')) continue;
      const kind = path.replace(/certificate-[^/]*\.conf$/, 'certificate-*.conf');
      for (const s of statements(text)) result.add(`${kind} ${shape(s)}`);
    }
    return result;
  }

  function checkRender(site: Site, stage: StageName, label: string): void {
    const outputs = outputsFromModel(site);
    const tlsDir = tlsDirFor(site);
    const options = { tlsDir, runtime: (host: string) => testRuntime(join(dir, 'run', host)) };
    const files = renderFiles(site, stage, outputs, options);
    // What the site asked for: the configs without its extra lines, with them as a header of
    // their own (a location that sets headers repeats the shared ones), and the lines themselves.
    const baseline = new Set([
      ...shapes(renderFiles(strip(site, () => []), stage, outputs, options)),
      ...shapes(renderFiles(strip(site, (s) => (s.extraLocationLines.length ? ['proxy_set_header X-Baseline 1;'] : [])), stage, outputs, options)),
    ]);
    const asked = new Set(site.services.filter((s) => s.stage === stage).flatMap((s) => s.extraLocationLines.map((l) => l.trim().split(/\s+/)[0]!)));
    const extra = [...shapes(files)].filter((s) => !baseline.has(s) && !(/>location::/.test(s) && asked.has(s.split('::')[1]!)));
    expect({ label, extra }).toEqual({ label, extra: [] });
    expect({ label, template: /\{\{|\{%|\{#/.test(files.get('inventory/hosts.yml') ?? '') }).toEqual({ label, template: false });

    const out = join(dir, 'out', stage);
    writeTree(out, files);
    for (const conf of [...files.keys()].filter((f) => f.endsWith('/nginx.conf'))) {
      const verdict = nginxTest(join(out, conf));
      expect({ label, conf, ok: verdict.ok, stderr: verdict.ok ? '' : verdict.stderr }).toEqual({ label, conf, ok: true, stderr: '' });
    }
  }

  it(`${CASES} cases: check refuses with file:line:col, or the render is what the site asked for and nginx -t accepts it`, () => {
    const mutate = fuzzer(SEED);
    let accepted = 0;
    for (let n = 0; n < CASES; n++) {
      const raw: Raw = parse(pegasus);
      mutate(raw);
      const file = join(dir, `case-${n}.yaml`);
      writeFileSync(file, stringify(raw, { lineWidth: 0 }));
      const label = `case ${n} (seed ${SEED})`;
      const { site, errors } = validateSite(file);
      for (const error of errors) expect({ label, error }).toEqual({ label, error: expect.stringMatching(/case-\d+\.yaml:\d+:\d+: \S/) });
      for (const error of errors) expect({ label, long: error.length > 400 }).toEqual({ label, long: false });
      if (!site) continue;
      accepted++;
      checkRender(site, 'lab', label);
      checkRender(site, 'prod', label);
    }
    // The generator makes both kinds, or the test proves nothing.
    expect(accepted).toBeGreaterThan(CASES / 8);
    expect(accepted).toBeLessThan(CASES - CASES / 8);
  }, 180_000);
});
