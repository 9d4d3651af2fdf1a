import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { diagramIsCurrent, siteDiagram, withDiagram } from '../../tasks/lib/check/diagram';
import { HomeprodError } from '../../tasks/lib/ui/errors';
import { loadSite, type Site } from '../../tasks/lib/model';

const shipped = loadSite('inventory/site.yaml');

/** Node declarations and edges, read back from the text, to check the graph it describes. */
function graph(text: string) {
  const nodes = new Map<string, string>();
  const edges: Array<{ from: string; to: string; label?: string; dotted: boolean }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const edge = /^(\w+) (-->|-\.->)(?:\|"([^"]*)"\|)? (\w+)$/.exec(line);
    if (edge) {
      edges.push({ from: edge[1]!, to: edge[4]!, label: edge[3], dotted: edge[2] === '-.->' });
      continue;
    }
    const node = /^(\w+)[[({]+"([^"]*)"[\])}]+$/.exec(line);
    if (node && !line.startsWith('subgraph')) nodes.set(node[1]!, node[2]!);
  }
  return { nodes, edges };
}

describe('the Mermaid diagram', () => {
  it('is what the README shows, for the shipped site', () => {
    expect(diagramIsCurrent(readFileSync('README.md', 'utf8'), siteDiagram(shipped))).toBe(true);
  });

  it('is deterministic and every edge joins declared nodes', () => {
    const text = siteDiagram(shipped);
    expect(siteDiagram(loadSite('inventory/site.yaml'))).toBe(text);
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    const { nodes, edges } = graph(text);
    for (const e of edges) {
      expect(nodes.has(e.from)).toBe(true);
      expect(nodes.has(e.to)).toBe(true);
    }
    // Every line is a declaration, an edge, a subgraph bracket or the header: nothing unparsed slipped in.
    const other = text.split('\n').filter((l) => l.trim() && !/^(flowchart LR|\s*%%|\s*subgraph |\s*end$)/.test(l));
    expect(other).toHaveLength(nodes.size + edges.length);
  });

  it('follows a request: internet → NAT → passthrough → stage proxy (by SNI) → service → upstream host', () => {
    const { nodes, edges } = graph(siteDiagram(shipped));
    const has = (from: string, to: string, label?: string) => edges.some((e) => e.from === from && e.to === to && e.label === label && !e.dotted);
    expect(has('internet', 'nat')).toBe(true);
    expect(nodes.get('nat')).toContain('127.0.0.1:8080 and :8443');
    expect(has('nat', 'h_prod_proxy_passthrough', '80, 443')).toBe(true);
    expect(has('h_prod_proxy_passthrough', 'h_lab_proxy', '*.lab.pegasuspad.com')).toBe(true);
    expect(has('h_prod_proxy_passthrough', 'h_prod_proxy', 'default')).toBe(true);
    expect(has('h_prod_proxy', 's_whoami')).toBe(true);
    expect(has('s_whoami', 'h_prod_whoami', ':8080')).toBe(true);
    expect(has('h_lab_proxy', 's_whoami_lab')).toBe(true);
    expect(has('s_whoami_lab', 'h_lab_whoami', ':8080')).toBe(true);
    expect(nodes.get('s_whoami_lab')).toBe('whoami-lab<br/>whoami.lab.pegasuspad.com');
    // Every host is drawn once, inside its stage's subgraph.
    for (const host of shipped.hosts) expect(nodes.get(`h_${host.name.replace(/-/g, '_')}`)).toContain(`${host.name}<br/>${host.ipv4}`);
    const text = siteDiagram(shipped);
    const lab = text.slice(text.indexOf('subgraph stage_lab'), text.indexOf('end', text.indexOf('subgraph stage_lab')));
    expect(lab).toContain('h_lab_certbot[("lab-certbot<br/>10.111.2.13 · certificate host<br/>data /etc/letsencrypt")]');
    expect(lab).toContain('h_lab_ansible[["lab-ansible');
    expect(lab).not.toContain('prod-');
  });

  it('shows the control node configuring its own stage only, and ACME only where the stage uses it', () => {
    const { edges } = graph(siteDiagram(shipped));
    const dotted = edges.filter((e) => e.dotted);
    expect(dotted.filter((e) => e.from === 'h_lab_ansible').map((e) => e.to)).toEqual(['h_lab_proxy', 'h_lab_certbot', 'h_lab_whoami']);
    expect(dotted.filter((e) => e.from === 'h_prod_ansible').map((e) => e.to)).toEqual(['h_prod_proxy_passthrough', 'h_prod_proxy', 'h_prod_whoami']);
    expect(dotted.some((e) => e.label === 'ACME HTTP-01')).toBe(false); // the shipped lab uses local-ca

    const acme: Site = structuredClone(shipped);
    acme.stages.lab.tls.mode = 'acme';
    expect(graph(siteDiagram(acme)).edges).toContainEqual({ from: 'h_lab_proxy', to: 'h_lab_certbot', label: 'ACME HTTP-01', dotted: true });
  });

  it('follows the model: a new service, an address upstream, websocket and body size show up', () => {
    const site: Site = structuredClone(shipped);
    site.services.push({ name: 'nas', stage: 'lab', hostnames: ['nas.lab.pegasuspad.com', 'files.lab.pegasuspad.com'], upstream: { host: null, address: '192.168.7.9', port: 5000 }, websocket: true, maxBodySize: '2g', extraLocationLines: [], certificate: 'nas.lab.pegasuspad.com' });
    const text = siteDiagram(site);
    expect(text).not.toBe(siteDiagram(shipped));
    const { nodes, edges } = graph(text);
    expect(nodes.get('s_nas')).toBe('nas<br/>nas.lab.pegasuspad.com<br/>files.lab.pegasuspad.com<br/>websocket · body ≤ 2g');
    expect(nodes.get('a_192_168_7_9')).toBe('192.168.7.9<br/>outside the site');
    expect(edges).toContainEqual({ from: 'h_lab_proxy', to: 's_nas', label: undefined, dotted: false });
    expect(edges).toContainEqual({ from: 's_nas', to: 'a_192_168_7_9', label: ':5000', dotted: false });
    expect(diagramIsCurrent(readFileSync('README.md', 'utf8'), text)).toBe(false);
  });

  it('replaces only the block between the markers, and names a file without them', () => {
    const readme = '# Title\n\nbefore\n<!-- diagram:start -->\nold\n<!-- diagram:end -->\nafter\n';
    const next = withDiagram(readme, 'flowchart LR\n  a --> b\n');
    expect(next).toBe('# Title\n\nbefore\n<!-- diagram:start -->\n```mermaid\nflowchart LR\n  a --> b\n```\n<!-- diagram:end -->\nafter\n');
    expect(withDiagram(next, 'flowchart LR\n  a --> b\n')).toBe(next);
    expect(() => withDiagram('# no markers\n', 'x\n', 'docs/x.md')).toThrow(HomeprodError);
    expect(() => withDiagram('# no markers\n', 'x\n', 'docs/x.md')).toThrow(/^docs\/x\.md has no diagram block/);
  });
});

describe('tasks/diagram.ts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'diagram-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const diagram = (...args: string[]) => $({ nothrow: true, env: { ...process.env, CI: '1', NO_COLOR: '1' } })`npx --no-install tsx tasks/diagram.ts ${args}`;

  it('prints the diagram, checks (exit 1 when stale) and writes the README block', async () => {
    const printed = await diagram();
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toBe(siteDiagram(shipped));

    const readme = join(dir, 'README.md');
    writeFileSync(readme, 'intro\n<!-- diagram:start -->\n```mermaid\nflowchart LR\n```\n<!-- diagram:end -->\noutro\n');
    const stale = await diagram('--check', readme);
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toContain('the diagram does not match the site');
    expect(stale.stderr).toContain(`hint: run: npx tsx tasks/diagram.ts --write ${readme}`);

    expect((await diagram('--write', readme)).stdout).toContain('diagram updated');
    expect(readFileSync(readme, 'utf8')).toBe(withDiagram('intro\n<!-- diagram:start -->\n<!-- diagram:end -->\noutro\n', siteDiagram(shipped)));
    expect((await diagram('--check', readme)).exitCode).toBe(0);
    expect((await diagram('--check', readme, '--write', readme)).exitCode).toBe(2);
    expect((await diagram('--check', join(dir, 'missing.md'))).stderr).toContain('missing.md does not exist');
  }, 180_000);
});
