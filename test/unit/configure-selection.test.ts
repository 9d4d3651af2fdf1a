// The selective configure without machines: which plays ansible/ has and what they use, which
// inputs change a play's hash on which host, and what a run selects from the record.
import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppliedStacks } from '../../tasks/lib/apply/applied-stacks';
import { ANSIBLE_DIR, stageVars } from '../../tasks/lib/configure/bundle';
import { machinesOf } from '../../tasks/lib/configure/plays-record';
import { type InputSources, playInputs } from '../../tasks/lib/configure/inputs';
import { playsOf } from '../../tasks/lib/configure/plays';
import { alwaysRun, playsVars, selectPlays } from '../../tasks/lib/configure/selection';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { outputsFromModel, render } from '../../tasks/lib/render/index';
import { parseAnsibleYaml } from '../../tasks/lib/shared/ansible-yaml';
import { fileStore, type Stores } from '../../tasks/lib/shared/store';

const site = loadSite(join(import.meta.dirname, '..', '..', 'inventory', 'site.yaml'));
const plays = playsOf(ANSIBLE_DIR);
const work = mkdtempSync(join(tmpdir(), 'homeprod-selection-'));
let n = 0;

/** Each play's hashes per lab host for a site (and an ansible dir). */
function inputsOf(changed: Site = site, ansibleDir = ANSIBLE_DIR, extra: Partial<InputSources> = {}) {
  const renderDir = join(work, `render-${n++}`);
  render(changed, 'lab', outputsFromModel(changed), { outDir: renderDir });
  return playInputs(playsOf(ansibleDir), { ansibleDir, renderDir, varsText: stageVars(changed, 'lab', '/var/lib/ansible/run/lab'), vaultFile: null, knownHosts: null, ...extra });
}

/** "play host" for every hash that differs. */
function differences(a: ReturnType<typeof inputsOf>, b: ReturnType<typeof inputsOf>): string[] {
  return Object.keys({ ...a, ...b }).flatMap((play) =>
    Object.keys({ ...a[play], ...b[play] })
      .filter((host) => a[play]?.[host] !== b[play]?.[host])
      .map((host) => `${play} ${host}`),
  );
}

const withService = (patch: Partial<Site['services'][number]>): Site => ({ ...site, services: site.services.map((s) => (s.name === 'whoami-lab' ? { ...s, ...patch } : s)) });
const baseline = inputsOf();

describe('the plays of ansible/site.yml', () => {
  it('are the playbooks in order, each with the roles it runs, followed through import_role', () => {
    expect(plays.map((p) => [p.name, p.pattern.join(':'), p.roles.join(',')])).toEqual([
      ['common', 'all', 'common'],
      ['control_node', 'control_nodes', 'control_node'],
      ['passthrough', 'passthrough', 'nginx,sni_passthrough'],
      ['certificates', 'control_nodes:certificate_hosts', 'certificates'],
      ['applications', 'applications', 'demo_app'],
      ['stage_proxy', 'stage_proxies', 'certificates,nginx,stage_proxy'],
    ]);
    expect(plays.find((p) => p.name === 'stage_proxy')!.files).toEqual(expect.arrayContaining(['playbooks/stage_proxy.yml', 'roles/nginx/tasks/validate.yml', 'roles/certificates/tasks/install.yml']));
  });

  it('refuses a playbook whose hosts line cannot be selected, naming it', () => {
    const dir = join(work, 'ansible-plain');
    cpSync(ANSIBLE_DIR, dir, { recursive: true });
    const file = join(dir, 'playbooks', 'common.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/hosts: .*/, 'hosts: all'));
    expect(() => playsOf(dir)).toThrow(`ansible/playbooks/common.yml: hosts must read "{{ homeprod_plays.common | default('<groups>') }}"`);
  });
});

describe('what changes a play’s inputs', () => {
  it('a full run covers every host of each play’s pattern, and the same site hashes the same', () => {
    expect(Object.fromEntries(Object.entries(baseline).map(([play, hosts]) => [play, Object.keys(hosts)]))).toEqual({
      common: ['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami'],
      control_node: ['lab-ansible'],
      passthrough: [],
      certificates: ['lab-ansible', 'lab-certbot'],
      applications: ['lab-whoami'],
      stage_proxy: ['lab-proxy'],
    });
    expect(differences(baseline, inputsOf())).toEqual([]);
  });

  it('a service’s body size changes only the stage proxy’s rendered tree', () => {
    expect(differences(baseline, inputsOf(withService({ maxBodySize: '20m' })))).toEqual(['stage_proxy lab-proxy']);
  });

  it('a new hostname changes the certificates everywhere they are read, the application and the proxy', () => {
    expect(differences(baseline, inputsOf(withService({ hostnames: ['whoami.lab.pegasuspad.com', 'who.lab.pegasuspad.com'] })))).toEqual([
      'certificates lab-ansible',
      'certificates lab-certbot',
      'applications lab-whoami',
      'stage_proxy lab-proxy',
    ]);
  });

  it('the users change the baseline on every host and nothing else', () => {
    const users = site.users.map((u) => ({ ...u, sudo: !u.sudo }));
    expect(differences(baseline, inputsOf({ ...site, users }))).toEqual(['common lab-ansible', 'common lab-certbot', 'common lab-proxy', 'common lab-whoami']);
  });

  it('a role’s file changes every play that runs the role, on all its hosts', () => {
    const dir = join(work, 'ansible-role');
    cpSync(ANSIBLE_DIR, dir, { recursive: true });
    writeFileSync(join(dir, 'roles', 'nginx', 'tasks', 'prune.yml'), `${readFileSync(join(dir, 'roles', 'nginx', 'tasks', 'prune.yml'), 'utf8')}# changed\n`);
    expect(differences(baseline, inputsOf(site, dir))).toEqual(['stage_proxy lab-proxy']);
    writeFileSync(join(dir, 'ansible.cfg'), `${readFileSync(join(dir, 'ansible.cfg'), 'utf8')}# changed\n`);
    expect(differences(baseline, inputsOf(site, dir))).toHaveLength(9);
  });

  it('the vault and known_hosts change everything', () => {
    const vault = join(work, 'vault.yml');
    writeFileSync(vault, '$ANSIBLE_VAULT;1.1;AES256\n00\n');
    expect(differences(baseline, inputsOf(site, ANSIBLE_DIR, { vaultFile: vault }))).toHaveLength(9);
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, 'lab-proxy ssh-ed25519 AAAA\n');
    expect(differences(baseline, inputsOf(site, ANSIBLE_DIR, { knownHosts }))).toHaveLength(9);
  });
});

describe('what a run selects', () => {
  const before = { at: 'then', inputs: baseline };
  const changed = inputsOf(withService({ maxBodySize: '20m' }));

  it('everything without a record, or on a full run', () => {
    expect(selectPlays({ inputs: changed, before: null })).toMatchObject({ full: true, plays: { common: ['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami'], stage_proxy: ['lab-proxy'] } });
    expect(selectPlays({ inputs: baseline, before, full: true }).full).toBe(true);
  });

  it('the changed plays on their hosts, every play on a host just applied, the plays that always run', () => {
    expect(selectPlays({ inputs: changed, before }).plays).toEqual({ common: [], control_node: [], passthrough: [], certificates: [], applications: [], stage_proxy: ['lab-proxy'] });
    const machines = { 'lab-whoami': 'vm:then', 'lab-proxy': 'vm:then' };
    expect(selectPlays({ inputs: baseline, before: { ...before, machines }, machines }).plays.common).toEqual([]);
    const replaced = { ...machines, 'lab-whoami': 'vm:now' };
    expect(selectPlays({ inputs: baseline, before: { ...before, machines }, machines: replaced }).plays).toMatchObject({ common: ['lab-whoami'], applications: ['lab-whoami'], stage_proxy: [] });
    const files: Site = { ...site, stages: { ...site.stages, lab: { ...site.stages.lab, tls: { ...site.stages.lab.tls, mode: 'files' } } } };
    expect(alwaysRun(site, 'lab', plays)).toEqual([]);
    expect(alwaysRun(files, 'lab', plays)).toEqual(['certificates', 'stage_proxy']);
    expect(selectPlays({ inputs: baseline, before, always: alwaysRun(files, 'lab', plays) }).plays).toMatchObject({ certificates: ['lab-ansible', 'lab-certbot'], stage_proxy: ['lab-proxy'], common: [] });
  });

  it('writes the selection as homeprod_plays, host names as data', () => {
    const vars = parseAnsibleYaml(playsVars(selectPlays({ inputs: changed, before }))) as { homeprod_plays: Record<string, string[]> };
    expect(vars.homeprod_plays.stage_proxy).toEqual(['lab-proxy']);
    expect(playsVars(selectPlays({ inputs: changed, before }))).toContain('- !unsafe lab-proxy');
  });
});

describe('what a machine is, as configure sees it', () => {
  it('changes when an apply changed one of the host’s stacks, and only then', async () => {
    const store = fileStore(mkdtempSync(join(work, 'state-')));
    const stores: Stores = () => store;
    const stacks = new AppliedStacks(store, 'lab');
    const vm = (name: string) => ({ name: `${name}-vm`, kind: 'vm' as const, dependsOn: [], dir: join(work, name) });
    await stacks.update([vm('lab-proxy'), vm('lab-whoami')], [], ['lab-proxy-vm', 'lab-whoami-vm']);
    const first = await machinesOf(stores, 'lab');
    expect(Object.keys(first)).toEqual(['lab-proxy', 'lab-whoami']);
    await new Promise((r) => setTimeout(r, 5));
    await stacks.update([vm('lab-proxy'), vm('lab-whoami')], [], []);
    expect(await machinesOf(stores, 'lab')).toEqual(first);
    await stacks.update([vm('lab-proxy'), vm('lab-whoami')], [], ['lab-whoami-vm']);
    const second = await machinesOf(stores, 'lab');
    expect(second['lab-proxy']).toBe(first['lab-proxy']);
    expect(second['lab-whoami']).not.toBe(first['lab-whoami']);
    expect(selectPlays({ inputs: baseline, before: { at: 'then', inputs: baseline, machines: first }, machines: second }).plays).toMatchObject({ common: ['lab-whoami'], stage_proxy: [] });
  });
});
