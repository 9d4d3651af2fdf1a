// What the promotion prompt says prod gets, from the model: services added, changed and removed
// with their routes, hosts created, changed and removed (as the model says; with the plans see
// promotion-plans.test.ts), settings and project files; a first promotion (or a record older than
// the facts) lists everything as new.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model';
import type { Service, Site } from '../../tasks/lib/model/types';
import { checkPromotion, recordVerified, shortSummary, stageFacts, summarizePromotion, summaryLines } from '../../tasks/lib/promote';
import { readFacts } from '../../tasks/lib/promote/facts';
import { fileStore } from '../../tasks/lib/shared/store';

const site = loadSite('inventory/site.yaml');
const whoami = site.services.find((s) => s.name === 'whoami')!;
const prodWhoami = site.hosts.find((h) => h.name === 'prod-whoami')!;

const withServices = (services: Service[]): Site => ({ ...site, services: [...site.services.filter((s) => s.stage !== 'prod'), ...services] });

describe('the promotion summary', () => {
  it('names the services added, changed (and how) and removed, with their routes', () => {
    const old = { ...whoami, name: 'old', hostnames: ['old.pegasuspad.com'], certificate: 'old.pegasuspad.com', upstream: { ...whoami.upstream, port: 9000 } };
    const before = stageFacts(withServices([whoami, old]), 'prod');
    const changed = { ...whoami, hostnames: ['whoami.pegasuspad.com', 'who.pegasuspad.com'], maxBodySize: '20m', websocket: true, certificate: 'who.pegasuspad.com' };
    const added = { ...whoami, name: 'whoami2', hostnames: ['a.pegasuspad.com'], certificate: 'a.pegasuspad.com' };
    const summary = summarizePromotion(before, stageFacts(withServices([changed, added]), 'prod'), ['site']);
    expect(shortSummary(summary)).toBe('1 service added (whoami2: a.pegasuspad.com → prod-whoami:8080), 1 changed, 1 removed; no hosts change');
    expect(summaryLines(summary)).toEqual([
      'Prod gets, compared with its last run:',
      '+ service whoami2: a.pegasuspad.com → prod-whoami:8080',
      `~ service whoami: route whoami.pegasuspad.com → prod-whoami:8080 becomes whoami.pegasuspad.com, who.pegasuspad.com → prod-whoami:8080; maxBodySize ${whoami.maxBodySize} → 20m; websocket off → on; certificate whoami.pegasuspad.com → who.pegasuspad.com`,
      '- service old: old.pegasuspad.com → prod-whoami:9000',
    ]);
  });

  it('names a new upstream as a changed route, and extra location lines without showing them', () => {
    const before = stageFacts(site, 'prod');
    const moved = { ...whoami, upstream: { host: null, address: '10.111.1.99', port: 80 }, extraLocationLines: ['proxy_set_header Authorization "Bearer s3cret";'] };
    const summary = summarizePromotion(before, stageFacts(withServices([moved]), 'prod'));
    expect(summaryLines(summary)).toEqual([
      'Prod gets, compared with its last run:',
      '~ service whoami: route whoami.pegasuspad.com → prod-whoami:8080 becomes whoami.pegasuspad.com → 10.111.1.99:80; extra location lines',
    ]);
    expect(JSON.stringify(stageFacts(withServices([moved]), 'prod'))).not.toContain('s3cret');
  });

  it('names the hosts created, changed (and how) and removed, the settings and the project files that change', () => {
    const before = stageFacts(site, 'prod');
    const hosts = site.hosts
      .filter((h) => h.name !== 'prod-ansible')
      .map((h) => (h.name === 'prod-whoami' ? { ...h, memory: 1024, cpu: 4 } : h));
    const created = { ...prodWhoami, name: 'prod-wiki', ipv4: '10.111.1.21', ipSuffix: 21, vmid: 4021 };
    const users = site.users.map((u) => ({ ...u, sshKeys: [...u.sshKeys, 'ssh-ed25519 AAAA another'] }));
    const after = stageFacts({ ...site, hosts: [...hosts, created], users }, 'prod');
    const summary = summarizePromotion(before, after, ['site', 'ansible/roles/nginx/tasks/main.yml', 'ansible/roles/nginx/templates/site.j2', 'templates/nginx/passthrough.conf.njk']);
    expect(shortSummary(summary)).toBe(
      '0 services added, 0 changed, 0 removed; hosts: 1 created (prod-wiki), 1 changed (prod-whoami), 1 destroyed (prod-ansible); settings change: users.pegasus; 3 project files change (ansible/roles/nginx, templates/nginx)',
    );
    expect(summaryLines(summary)).toEqual([
      'Prod gets, compared with its last run:',
      '+ host prod-wiki: created (application; 10.111.1.21)',
      `~ host prod-whoami: changed (cpu ${prodWhoami.cpu} → 4; memory 512 MiB → 1024 MiB)`,
      '- host prod-ansible: destroyed (control-node)',
      '~ settings: users.pegasus',
      '~ project files: ansible/roles/nginx (2), templates/nginx (1)',
    ]);
  });

  it("names the lab hostnames prod's passthrough starts or stops routing", () => {
    const labWhoami = site.services.find((s) => s.name === 'whoami-lab')!;
    const notes = { ...labWhoami, name: 'notes', hostnames: ['notes.lab.pegasuspad.com'], certificate: 'notes.lab.pegasuspad.com' };
    const after = stageFacts({ ...site, services: [whoami, notes] }, 'prod');
    const summary = summarizePromotion(stageFacts(site, 'prod'), after, ['site']);
    expect(shortSummary(summary)).toBe('0 services added, 0 changed, 0 removed; no hosts change; passthrough routes: 1 added (notes.lab.pegasuspad.com → lab), 1 removed (whoami.lab.pegasuspad.com → lab)');
    expect(summaryLines(summary)).toEqual(['Prod gets, compared with its last run:', '+ passthrough route notes.lab.pegasuspad.com → lab', '- passthrough route whoami.lab.pegasuspad.com → lab']);
    // Lab has no passthrough: it routes nothing of another stage.
    expect(stageFacts(site, 'lab').passthrough).toEqual([]);
  });

  it('says when nothing of prod changes', () => {
    const summary = summarizePromotion(stageFacts(site, 'prod'), stageFacts(site, 'prod'), ['site']);
    expect(shortSummary(summary)).toBe('0 services added, 0 changed, 0 removed; no hosts change');
    expect(summaryLines(summary)).toEqual(['Prod gets, compared with its last run:', '  no service, host, passthrough route, setting or project file of prod changes']);
  });

  it('a first promotion lists every service and host prod gets as new', () => {
    const summary = summarizePromotion(null, stageFacts(site, 'prod'), ['site', 'templates/nginx/x.njk']);
    expect(shortSummary(summary)).toBe(
      'first promotion: 1 service added (whoami: whoami.pegasuspad.com → prod-whoami:8080), 0 changed, 0 removed; hosts: 4 created (prod-proxy-passthrough, prod-proxy, prod-ansible and 1 more); passthrough routes: 1 added (whoami.lab.pegasuspad.com → lab), 0 removed',
    );
    expect(summaryLines(summary)).toEqual([
      'First promotion: prod gets every service and host',
      '+ service whoami: whoami.pegasuspad.com → prod-whoami:8080',
      '+ host prod-proxy-passthrough: created (passthrough; 10.111.1.10)',
      '+ host prod-proxy: created (stage-proxy; 10.111.1.11)',
      '+ host prod-ansible: created (control-node; 10.111.1.12)',
      '+ host prod-whoami: created (application; 10.111.1.20)',
      '+ passthrough route whoami.lab.pegasuspad.com → lab',
    ]);
  });
});

describe("prod's run record and the gate's summary", () => {
  const snapshot = { hash: 'same', files: { site: 'x' } };

  it('the record carries the facts; the gate compares with them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'homeprod-facts-'));
    const files = fileStore(root);
    const stores = () => files;
    await recordVerified(stores, 'prod', snapshot, stageFacts(site, 'prod'));
    const record = JSON.parse(readFileSync(join(root, 'runs', 'prod-run.json'), 'utf8')) as { facts: unknown };
    expect(readFacts(record.facts)).toEqual(stageFacts(site, 'prod'));
    await recordVerified(stores, 'lab', snapshot);
    const added = { ...whoami, name: 'whoami2', hostnames: ['a.pegasuspad.com'], certificate: 'a.pegasuspad.com' };
    const check = await checkPromotion(snapshot, stores, stageFacts(withServices([whoami, added]), 'prod'));
    expect(shortSummary(check.summary)).toBe('1 service added (whoami2: a.pegasuspad.com → prod-whoami:8080), 0 changed, 0 removed; no hosts change');
  });

  it('a record without facts (older than them, or malformed) is summarized as a first promotion', async () => {
    const root = mkdtempSync(join(tmpdir(), 'homeprod-facts-'));
    const files = fileStore(root);
    const stores = () => files;
    await recordVerified(stores, 'prod', snapshot);
    await recordVerified(stores, 'lab', snapshot);
    const check = await checkPromotion(snapshot, stores, stageFacts(site, 'prod'));
    expect(check.summary.first).toBe(true);
    expect(check.summary.services.added.map((s) => s.name)).toEqual(['whoami']);
    expect(check.summary.hosts.filter((h) => h.verdict === 'created').map((h) => h.name)).toEqual(['prod-proxy-passthrough', 'prod-proxy', 'prod-ansible', 'prod-whoami']);
    expect(readFacts({ services: [{ name: 1 }], hosts: [], settings: {} })).toBeNull();
    expect(readFacts({ services: [], hosts: [], settings: {} })).toBeNull();
    expect(readFacts({ services: [], hosts: [], passthrough: [], settings: {} })).toEqual({ services: [], hosts: [], passthrough: [], settings: {} });
  });
});
