// Render of the Pegasus site: golden files for the inventory and every nginx config, each
// rendered config through a real `nginx -t`, and the outputs contract.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomeprodError } from '../../tasks/lib/ui/errors';
import { loadSite } from '../../tasks/lib/model/index';
import type { HostOutput, Site } from '../../tasks/lib/model/types';
import { expectedOutputs, outputsFromModel, parseOutputs, readOutputsFile, render, renderFiles } from '../../tasks/lib/render/index';
import { compareGolden, GOLDEN_ROOT } from '../helpers/golden';
import { issueCertificate, makeCa, nginxTest, testRuntime } from '../helpers/render-nginx';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const site = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));
const localOutputs = readOutputsFile(join(FIXTURES, 'outputs-local.json'));
const proxmoxOutputs = readOutputsFile(join(FIXTURES, 'outputs-proxmox.json'));
const STAGES = ['lab', 'prod'] as const;

function expectedFiles(caseName: string): string[] {
  const root = join(GOLDEN_ROOT, caseName, 'expected');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.actual'))
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

function checkGolden(caseName: string, files: Map<string, string>): void {
  const problems = [...files].map(([file, text]) => compareGolden(caseName, file, text)).filter((p) => p !== null);
  expect(problems).toEqual([]);
  // A file the render no longer writes must not linger as an expected one.
  expect(expectedFiles(caseName)).toEqual([...files.keys()].sort());
}

function prefixed(stage: string, files: Map<string, string>): Map<string, string> {
  return new Map([...files].map(([path, text]) => [`${stage}/${path}`, text]));
}

describe('render golden files (Pegasus site)', () => {
  it('renders the inventory and every nginx config of both stages from local-platform outputs', () => {
    const all = new Map<string, string>();
    for (const stage of STAGES) for (const [p, t] of prefixed(stage, renderFiles(site, stage, localOutputs))) all.set(p, t);
    checkGolden('render-pegasus', all);
  });

  it('renders the inventories from Proxmox outputs (their addresses, not the model\'s)', () => {
    const all = new Map<string, string>();
    for (const stage of STAGES) all.set(`${stage}/inventory/hosts.yml`, renderFiles(site, stage, proxmoxOutputs).get('inventory/hosts.yml') ?? '');
    checkGolden('render-pegasus-proxmox', all);
    expect(all.get('lab/inventory/hosts.yml')).toContain('ansible_host: !unsafe 10.111.1.111');
  });

  it('is deterministic whatever order the outputs come in', () => {
    const reversed = [...localOutputs].reverse();
    for (const stage of STAGES) expect(renderFiles(site, stage, reversed)).toEqual(renderFiles(site, stage, localOutputs));
  });
});

/** ansible-inventory --list shows an `!unsafe` string as { __ansible_unsafe: text }. */
function unsafeAsText(value: any): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (Array.isArray(value)) return value.map(unsafeAsText);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '__ansible_unsafe') return value.__ansible_unsafe;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unsafeAsText(v)]));
  }
  return value;
}

describe('inventory', () => {
  it('is a valid Ansible inventory with the stage and role groups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeprod-inventory-'));
    try {
      const file = join(dir, 'hosts.yml');
      writeFileSync(file, renderFiles(site, 'lab', localOutputs).get('inventory/hosts.yml') ?? '');
      const listed = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8', env: { ...process.env, ANSIBLE_INVENTORY_ENABLED: 'yaml' } }));
      expect(listed.stage_lab.hosts).toEqual(['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami']);
      expect(listed.control_nodes.hosts).toEqual(['lab-ansible']);
      expect(listed.stage_proxies.hosts).toEqual(['lab-proxy']);
      expect(listed.certificate_hosts.hosts).toEqual(['lab-certbot']);
      expect(listed.applications.hosts).toEqual(['lab-whoami']);
      expect(listed.passthrough?.hosts ?? []).toEqual([]);
      // Every string is data to Ansible (`!unsafe`): it lists them marked as such.
      expect(listed._meta.hostvars['lab-certbot'].ansible_host).toEqual({ __ansible_unsafe: '10.111.2.13' });
      const vars = unsafeAsText(listed._meta.hostvars);
      expect(vars['lab-certbot'].ansible_host).toBe('10.111.2.13');
      expect(vars['lab-certbot'].homeprod_data_disks).toEqual([{ label: 'letsencrypt', mountpoint: '/etc/letsencrypt', read_only: false }]);
      expect(vars['lab-whoami'].homeprod_services).toEqual([{ name: 'whoami-lab', port: 8080, hostnames: ['whoami.lab.pegasuspad.com'] }]);
      expect(vars['lab-whoami'].homeprod_stage).toBe('lab');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes its hosts from the outputs only', () => {
    const withoutCertbot = localOutputs.filter((h) => h.name !== 'lab-certbot');
    const text = renderFiles(site, 'lab', withoutCertbot).get('inventory/hosts.yml') ?? '';
    expect(text).not.toContain('lab-certbot');
  });

  it('refuses a stage with no outputs', () => {
    expect(() => renderFiles(site, 'lab', localOutputs.filter((h) => h.stage === 'prod'))).toThrow(/no terraform outputs for stage lab/);
  });
});

describe('outputs', () => {
  it('are what the model defines: the recorded local outputs equal expectedOutputs', () => {
    const byName = (a: HostOutput, b: HostOutput) => a.name.localeCompare(b.name);
    expect([...localOutputs].sort(byName)).toEqual(outputsFromModel(site).sort(byName));
    expect(expectedOutputs(site, 'lab').every((h) => h.stage === 'lab')).toBe(true);
  });

  it('read a plain HostOutput list the same as terraform output JSON', () => {
    expect(parseOutputs(JSON.parse(JSON.stringify(localOutputs)), 'list')).toEqual(localOutputs);
  });

  it('name the stack and field of a bad value', () => {
    const recorded = JSON.parse(readFileSync(join(FIXTURES, 'outputs-local.json'), 'utf8'));
    recorded['lab-proxy-vm'].host.value.ipv4 = '10.111.2.300';
    try {
      parseOutputs(recorded, 'outputs.json');
      throw new Error('accepted a bad address');
    } catch (error) {
      expect(error).toBeInstanceOf(HomeprodError);
      expect((error as HomeprodError).details).toEqual(['lab-proxy-vm.host.value.ipv4: is not an IPv4 address']);
    }
    expect(() => parseOutputs([localOutputs[0], localOutputs[0]], 'x.json')).toThrow(/appears twice/);
    expect(() => parseOutputs({ 'a-vm': { other: {} } }, 'x.json')).toThrow(/a-vm: has no "host" output/);
  });

  it('cannot be derived for a DHCP host', () => {
    const dhcp: Site = { ...site, hosts: site.hosts.map((h) => (h.name === 'lab-whoami' ? { ...h, ipv4: null, ipSuffix: null } : h)) };
    expect(() => expectedOutputs(dhcp, 'lab')).toThrow(/"lab-whoami" takes its address by DHCP/);
  });
});

describe('nginx configs', () => {
  let dir: string;
  let tlsDir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'homeprod-render-'));
    tlsDir = join(dir, 'tls');
    const ca = makeCa(join(dir, 'ca'));
    for (const service of site.services) issueCertificate(ca, tlsDir, service.hostnames);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function renderAndTest(s: Site, stage: 'lab' | 'prod', outputs: HostOutput[]): string[] {
    const out = join(dir, `${stage}-${Math.random().toString(36).slice(2)}`);
    const result = render(s, stage, outputs, { outDir: out, tlsDir, runtime: (host) => testRuntime(join(dir, 'run', host)) });
    const confs = result.files.filter((f) => f.endsWith('/nginx.conf'));
    for (const conf of confs) {
      const verdict = nginxTest(join(out, conf));
      expect({ conf, ...verdict, warnings: verdict.stderr.split('\n').filter((l) => /\[(warn|emerg|alert|crit)\]/.test(l)) }).toMatchObject({ ok: true, warnings: [] });
    }
    return confs;
  }

  it('every rendered config of both stages passes nginx -t', () => {
    expect(renderAndTest(site, 'prod', localOutputs)).toEqual(['hosts/prod-proxy-passthrough/nginx/nginx.conf', 'hosts/prod-proxy/nginx/nginx.conf']);
    expect(renderAndTest(site, 'lab', localOutputs)).toEqual(['hosts/lab-proxy/nginx/nginx.conf']);
  });

  it('nginx -t fails when a certificate is missing (the test can fail)', () => {
    const extra: Site = { ...site, services: [...site.services, { ...site.services[0]!, name: 'nocert', hostnames: ['nocert.pegasuspad.com'], certificate: 'nocert.pegasuspad.com' }] };
    const out = join(dir, 'nocert');
    render(extra, 'prod', localOutputs, { outDir: out, tlsDir, runtime: (host) => testRuntime(join(dir, 'run', host)) });
    const verdict = nginxTest(join(out, 'hosts/prod-proxy/nginx/nginx.conf'));
    expect(verdict.ok).toBe(false);
    expect(verdict.stderr).toContain('nocert.pegasuspad.com/fullchain.pem');
  });

  it('allows TLS 1.2 only on a stage that opts in', () => {
    const tls12: Site = { ...site, stages: { ...site.stages, lab: { ...site.stages.lab, tls: { ...site.stages.lab.tls, allowTls12: true } } } };
    expect(renderFiles(tls12, 'lab', localOutputs).get('hosts/lab-proxy/nginx/homeprod/snippets/tls.conf')).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    expect(renderFiles(tls12, 'prod', localOutputs).get('hosts/prod-proxy/nginx/homeprod/snippets/tls.conf')).toContain('ssl_protocols TLSv1.3;');
    renderAndTest(tls12, 'lab', localOutputs);
  });

  it('renders websocket upgrades, body size and extra lines per service', () => {
    const ws: Site = {
      ...site,
      services: site.services.map((s) => (s.name === 'whoami-lab' ? { ...s, websocket: true, maxBodySize: '512m', extraLocationLines: ['proxy_buffering off;'] } : s)),
    };
    const conf = renderFiles(ws, 'lab', localOutputs).get('hosts/lab-proxy/nginx/homeprod/http/certificate-whoami.lab.pegasuspad.com.conf') ?? '';
    expect(conf).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(conf).toContain('proxy_set_header Connection $homeprod_connection;');
    expect(conf).toContain('client_max_body_size 512m;');
    expect(conf).toContain('        proxy_buffering off;\n');
    renderAndTest(ws, 'lab', localOutputs);
  });

  it('sets the shared request headers again in every location with lines of its own, however they spell proxy_set_header', () => {
    const certificateConf = (lines: string[]) => {
      const own: Site = { ...site, services: site.services.map((s) => (s.name === 'whoami' ? { ...s, extraLocationLines: lines } : s)) };
      const files = renderFiles(own, 'prod', localOutputs);
      return { files, conf: files.get('hosts/prod-proxy/nginx/homeprod/http/certificate-whoami.pegasuspad.com.conf') ?? '' };
    };
    const include = '        include homeprod/snippets/proxy-headers.conf;\n        proxy_set_header Connection "";\n';
    for (const lines of [['proxy_set_header X-Extra 1;'], ['"proxy_set_header" X-Extra 1;'], ["'proxy_set_header' X-Extra 1;"], ['proxy_buffering off;']]) {
      expect(certificateConf(lines).conf).toContain(`${include}        add_header`);
    }
    const { files, conf: plain } = certificateConf([]);
    expect(plain).not.toMatch(/proxy_set_header|include/);
    const snippet = files.get('hosts/prod-proxy/nginx/homeprod/snippets/proxy-headers.conf') ?? '';
    expect(snippet.match(/^proxy_set_header .*$/gm)).toEqual([
      'proxy_set_header Host $host;',
      'proxy_set_header X-Real-IP $remote_addr;',
      'proxy_set_header X-Forwarded-For $remote_addr;',
      'proxy_set_header X-Forwarded-Proto https;',
    ]);
    expect(files.get('hosts/prod-proxy/nginx/homeprod/http/00-proxy.conf')).toContain('\ninclude homeprod/snippets/proxy-headers.conf;\n');
  });

  it('answers 421 to a Host outside the certificate of the handshake, and in the default server', () => {
    const shared: Site = { ...site, services: [...site.services, { ...site.services.find((s) => s.stage === 'prod')!, name: 'notes', hostnames: ['notes.pegasuspad.com', 'wiki.pegasuspad.com'], certificate: 'apps' }] };
    const files = renderFiles(shared, 'prod', localOutputs);
    const http = (file: string) => files.get(`hosts/prod-proxy/nginx/homeprod/http/${file}`) ?? '';
    const sniMap = /map \$ssl_server_name \$homeprod_sni_certificate \{\n([^}]*)\}/.exec(http('upstreams.conf'))?.[1] ?? '';
    expect(sniMap.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual([
      'hostnames;',
      'default "";',
      'notes.pegasuspad.com apps;',
      'whoami.pegasuspad.com whoami.pegasuspad.com;',
      'wiki.pegasuspad.com apps;',
    ]);
    expect(http('certificate-apps.conf')).toContain('    if ($homeprod_sni_certificate != "apps") {\n        return 421;\n    }\n');
    expect(/ssl_reject_handshake on;\n\s*return 421;\n\}/.test(http('00-proxy.conf'))).toBe(true);
    // Every TLS server block has the guard; the plain-HTTP redirect blocks need none.
    for (const [path, text] of files) {
      if (path.includes('/certificate-')) expect(text.match(/ssl proxy_protocol;/g)?.length).toBe(text.match(/return 421;/g)?.length);
    }
  });

  it('trusts client addresses from prod\'s passthrough only, on both stage proxies', () => {
    const labPassthrough: HostOutput = { name: 'lab-passthrough', stage: 'lab', roles: ['passthrough'], ipv4: '10.111.2.10', vmid: 5010, mac: '02:00:00:00:50:10', data_disks: [] };
    for (const stage of STAGES) {
      const proxy = renderFiles(site, stage, [...localOutputs, labPassthrough]).get(`hosts/${stage}-proxy/nginx/homeprod/http/00-proxy.conf`) ?? '';
      expect(proxy.match(/^\s*set_real_ip_from .*$/gm)).toEqual(['set_real_ip_from 10.111.1.10;']);
    }
    const noProdPassthrough = localOutputs.map((h) => (h.name === 'prod-proxy-passthrough' ? { ...h, stage: 'lab' as const } : h));
    const s: Site = { ...site, hosts: site.hosts.filter((h) => h.name !== 'prod-proxy-passthrough') };
    expect(() => renderFiles(s, 'lab', noProdPassthrough)).toThrow("stage proxy lab-proxy accepts connections only through prod's passthrough (PROXY protocol), but stage prod has no host with role passthrough");
  });

  it('sends ACME HTTP-01 of prod names to prod\'s certificate host, and of lab names to lab\'s', () => {
    const certbot: HostOutput = { name: 'prod-certbot', stage: 'prod', roles: ['certificate-host'], ipv4: '10.111.1.13', vmid: 4013, mac: '02:00:00:00:40:13', data_disks: [] };
    const http = renderFiles(site, 'prod', [...localOutputs, certbot]).get('hosts/prod-proxy-passthrough/nginx/homeprod/http/passthrough.conf') ?? '';
    const upstream = (name: string) => new RegExp(`upstream ${name} \\{\\n([^}]*)\\}`).exec(http)?.[1]?.trim();
    expect(upstream('homeprod_prod_acme')).toBe('server 10.111.1.13:80;');
    expect(upstream('homeprod_lab_acme')).toBe('server 10.111.2.13:80;');
    const acmeMap = /map \$host \$homeprod_acme_upstream \{([^}]*)\}/.exec(http)?.[1] ?? '';
    expect(acmeMap).toContain('default homeprod_prod_acme;');
    expect(acmeMap).toContain('whoami.pegasuspad.com homeprod_prod_acme;');
    expect(acmeMap).toContain('.lab.pegasuspad.com homeprod_lab_acme;');
    // Without a certificate host prod answers challenges on its proxy.
    const plain = renderFiles(site, 'prod', localOutputs).get('hosts/prod-proxy-passthrough/nginx/homeprod/http/passthrough.conf') ?? '';
    expect(/upstream homeprod_prod_acme \{\n([^}]*)\}/.exec(plain)?.[1]?.trim()).toBe('server 10.111.1.11:80;');
  });

  it('sends a service to the address its application host has in the outputs', () => {
    const moved = localOutputs.map((h) => (h.name === 'lab-whoami' ? { ...h, ipv4: '10.111.2.99' } : h));
    expect(renderFiles(site, 'lab', moved).get('hosts/lab-proxy/nginx/homeprod/http/upstreams.conf')).toContain('server 10.111.2.99:8080;');
  });

  it('explains what is missing instead of rendering a broken passthrough', () => {
    const noProdProxy = localOutputs.filter((h) => h.name !== 'prod-proxy');
    const s: Site = { ...site, hosts: site.hosts.filter((h) => h.name !== 'prod-proxy') };
    expect(() => renderFiles(s, 'prod', noProdProxy)).toThrow(/stage prod has no host with role stage-proxy/);
    const bad: Site = { ...site, services: [{ ...site.services[0]!, hostnames: ['evil.pegasuspad.com;'] }] };
    expect(() => renderFiles(bad, 'prod', localOutputs)).toThrow('services[0].hostnames[0]: "evil.pegasuspad.com;" cannot go into an nginx config');
  });

  it('replaces the output directory as a whole', () => {
    const out = join(dir, 'replace');
    render(site, 'lab', localOutputs, { outDir: out });
    mkdirSync(join(out, 'stale'), { recursive: true });
    writeFileSync(join(out, 'stale', 'old.conf'), 'x');
    render(site, 'lab', localOutputs, { outDir: out });
    expect(existsSync(join(out, 'stale'))).toBe(false);
    expect(statSync(join(out, 'inventory', 'hosts.yml')).isFile()).toBe(true);
    expect(readdirSync(dir).filter((e) => e.startsWith('.replace'))).toEqual([]);
  });
});
