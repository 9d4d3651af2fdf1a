// The selective configure without machines: which plays and parts ansible/ has and what they
// use, which inputs change a part's hash on which host, and what a run selects from the record.
import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppliedStacks } from '../../tasks/lib/apply/applied-stacks';
import { ANSIBLE_DIR, stageVars } from '../../tasks/lib/configure/bundle';
import { machinesOf } from '../../tasks/lib/configure/plays-record';
import { type InputSources, partInputs } from '../../tasks/lib/configure/inputs';
import { partsOf, partWhen, playsOf } from '../../tasks/lib/configure/plays';
import { alwaysRun, playsVars, selectPlays } from '../../tasks/lib/configure/selection';
import { loadSite } from '../../tasks/lib/model';
import type { Site, StageName } from '../../tasks/lib/model/types';
import { outputsFromModel, render } from '../../tasks/lib/render/index';
import { parseAnsibleYaml } from '../../tasks/lib/shared/ansible-yaml';
import { fileStore, type Stores } from '../../tasks/lib/shared/store';

const site = loadSite(join(import.meta.dirname, '..', '..', 'inventory', 'site.yaml'));
const parts = partsOf(playsOf(ANSIBLE_DIR));
const work = mkdtempSync(join(tmpdir(), 'homeprod-selection-'));
let n = 0;

/** Each part's hashes per lab host for a site (and an ansible dir). */
function inputsOf(changed: Site = site, ansibleDir = ANSIBLE_DIR, extra: Partial<InputSources> = {}, stage: StageName = 'lab') {
  const renderDir = join(work, `render-${n++}`);
  render(changed, stage, outputsFromModel(changed), { outDir: renderDir });
  return partInputs(partsOf(playsOf(ansibleDir)), { ansibleDir, renderDir, varsText: stageVars(changed, stage, `/var/lib/ansible/run/${stage}`), vaultFile: null, knownHosts: null, ...extra });
}

/** "part host" for every hash that differs. */
function differences(a: ReturnType<typeof inputsOf>, b: ReturnType<typeof inputsOf>): string[] {
  return Object.keys({ ...a, ...b }).flatMap((part) =>
    Object.keys({ ...a[part], ...b[part] })
      .filter((host) => a[part]?.[host] !== b[part]?.[host])
      .map((host) => `${part} ${host}`),
  );
}

/** A copy of ansible/ with one file edited. */
function editedAnsible(name: string, file: string, edit: (text: string) => string): string {
  const dir = join(work, name);
  cpSync(ANSIBLE_DIR, dir, { recursive: true });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), 'utf8')));
  return dir;
}

const withService = (patch: Partial<Site['services'][number]>): Site => ({ ...site, services: site.services.map((s) => (s.name === 'whoami-lab' ? { ...s, ...patch } : s)) });
const baseline = inputsOf();

describe('the plays of ansible/site.yml', () => {
  it('are the playbooks in order; a role each imports is a part, with the roles it runs, followed through import_role', () => {
    expect(parts.map((p) => [p.key, p.pattern.join(':'), p.roles.join(',')])).toEqual([
      ['common', 'all', 'common'],
      ['control_node', 'control_nodes', 'control_node'],
      ['passthrough/sni_passthrough', 'passthrough', 'nginx,sni_passthrough'],
      ['passthrough/nginx_release', 'passthrough', 'nginx_release'],
      ['certificates', 'control_nodes:certificate_hosts', 'certificates'],
      ['applications', 'applications', 'demo_app'],
      ['stage_proxy/stage_proxy', 'stage_proxies', 'nginx,stage_proxy'],
      ['stage_proxy/certificates', 'stage_proxies', 'certificates'],
      ['stage_proxy/nginx_release', 'stage_proxies', 'nginx_release'],
    ]);
    const release = parts.find((p) => p.key === 'stage_proxy/nginx_release')!.files;
    expect(release).toEqual(expect.arrayContaining(['playbooks/stage_proxy.yml', 'handlers/nginx.yml', 'roles/nginx_release/files/release.sh']));
    expect(release).not.toContain('roles/nginx/tasks/main.yml');
    expect(parts.find((p) => p.key === 'stage_proxy/stage_proxy')!.files).toEqual(expect.arrayContaining(['handlers/nginx.yml', 'roles/nginx/tasks/main.yml']));
  });

  it('refuses a playbook whose hosts line cannot be selected, naming it', () => {
    const dir = editedAnsible('ansible-plain', 'playbooks/common.yml', (text) => text.replace(/hosts: .*/, 'hosts: all'));
    expect(() => playsOf(dir)).toThrow(`ansible/playbooks/common.yml: hosts must read "{{ homeprod_plays.common | default('<groups>') }}"`);
  });

  it('refuses a part of a play of several roles without its when line, and a task that imports no role', () => {
    const ungated = editedAnsible('ansible-ungated', 'playbooks/stage_proxy.yml', (text) => text.replace(`      when: ${partWhen('stage_proxy', 'certificates')}\n`, ''));
    expect(() => playsOf(ungated)).toThrow(`ansible/playbooks/stage_proxy.yml: role certificates must carry "when: ${partWhen('stage_proxy', 'certificates')}"`);
    const loose = editedAnsible('ansible-loose', 'playbooks/stage_proxy.yml', (text) => text.replace('  tasks:\n', '  tasks:\n    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n\n'));
    expect(() => playsOf(loose)).toThrow('ansible/playbooks/stage_proxy.yml: task "Say hello" does not import a role');
  });
});

describe('what changes a part’s inputs', () => {
  it('a full run covers every host of each play’s pattern, and the same site hashes the same', () => {
    expect(Object.fromEntries(Object.entries(baseline).map(([part, hosts]) => [part, Object.keys(hosts)]))).toEqual({
      common: ['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami'],
      control_node: ['lab-ansible'],
      'passthrough/sni_passthrough': [],
      'passthrough/nginx_release': [],
      certificates: ['lab-ansible', 'lab-certbot'],
      applications: ['lab-whoami'],
      'stage_proxy/stage_proxy': ['lab-proxy'],
      'stage_proxy/certificates': ['lab-proxy'],
      'stage_proxy/nginx_release': ['lab-proxy'],
    });
    expect(differences(baseline, inputsOf())).toEqual([]);
  });

  it('a service’s body size changes only the stage proxy’s nginx release: no package, no certificate', () => {
    expect(differences(baseline, inputsOf(withService({ maxBodySize: '20m' })))).toEqual(['stage_proxy/nginx_release lab-proxy']);
  });

  it('a new hostname changes the certificates everywhere they are read, the application and the proxy', () => {
    expect(differences(baseline, inputsOf(withService({ hostnames: ['whoami.lab.pegasuspad.com', 'who.lab.pegasuspad.com'] })))).toEqual([
      'certificates lab-ansible',
      'certificates lab-certbot',
      'applications lab-whoami',
      'stage_proxy/certificates lab-proxy',
      'stage_proxy/nginx_release lab-proxy',
    ]);
  });

  it('a new lab service changes only the passthrough’s nginx release in prod', () => {
    const notes = { ...site.services.find((s) => s.name === 'whoami-lab')!, name: 'notes-lab', hostnames: ['notes.lab.pegasuspad.com'], certificate: 'notes.lab.pegasuspad.com' };
    const prod = inputsOf(site, ANSIBLE_DIR, {}, 'prod');
    expect(differences(prod, inputsOf({ ...site, services: [...site.services, notes] }, ANSIBLE_DIR, {}, 'prod'))).toEqual(['passthrough/nginx_release prod-proxy-passthrough']);
  });

  it('the users change the baseline on every host and nothing else', () => {
    const users = site.users.map((u) => ({ ...u, sudo: !u.sudo }));
    expect(differences(baseline, inputsOf({ ...site, users }))).toEqual(['common lab-ansible', 'common lab-certbot', 'common lab-proxy', 'common lab-whoami']);
  });

  it('a role’s file changes every part that runs the role, on all its hosts; a playbook’s or its handlers’, every part of the play', () => {
    const changed = (text: string) => `${text}# changed\n`;
    expect(differences(baseline, inputsOf(site, editedAnsible('ansible-release', 'roles/nginx_release/files/release.sh', changed)))).toEqual(['stage_proxy/nginx_release lab-proxy']);
    expect(differences(baseline, inputsOf(site, editedAnsible('ansible-nginx', 'roles/nginx/tasks/main.yml', changed)))).toEqual(['stage_proxy/stage_proxy lab-proxy']);
    const play = ['stage_proxy/stage_proxy lab-proxy', 'stage_proxy/certificates lab-proxy', 'stage_proxy/nginx_release lab-proxy'];
    expect(differences(baseline, inputsOf(site, editedAnsible('ansible-handlers', 'handlers/nginx.yml', changed)))).toEqual(play);
    expect(differences(baseline, inputsOf(site, editedAnsible('ansible-playbook', 'playbooks/stage_proxy.yml', changed)))).toEqual(play);
    expect(differences(baseline, inputsOf(site, editedAnsible('ansible-cfg', 'ansible.cfg', changed)))).toHaveLength(11);
  });

  it('the vault and known_hosts change everything', () => {
    const vault = join(work, 'vault.yml');
    writeFileSync(vault, '$ANSIBLE_VAULT;1.1;AES256\n00\n');
    expect(differences(baseline, inputsOf(site, ANSIBLE_DIR, { vaultFile: vault }))).toHaveLength(11);
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, 'lab-proxy ssh-ed25519 AAAA\n');
    expect(differences(baseline, inputsOf(site, ANSIBLE_DIR, { knownHosts }))).toHaveLength(11);
  });

  it('known_hosts counts with the stage’s own lines only: a machine of the other stage changes nothing', () => {
    const knownHosts = join(work, 'known_hosts-stages');
    const proxy = site.hosts.find((h) => h.name === 'lab-proxy')!;
    const lab = `${proxy.ipv4},lab-proxy ssh-ed25519 AAAA\n`;
    writeFileSync(knownHosts, lab);
    const before = inputsOf(site, ANSIBLE_DIR, { knownHosts });
    writeFileSync(knownHosts, `${lab}10.111.1.11,prod-proxy ssh-ed25519 BBBB\n`);
    expect(differences(before, inputsOf(site, ANSIBLE_DIR, { knownHosts }))).toEqual([]);
    writeFileSync(knownHosts, `${proxy.ipv4},lab-proxy ssh-ed25519 CCCC\n10.111.1.11,prod-proxy ssh-ed25519 BBBB\n`);
    expect(differences(before, inputsOf(site, ANSIBLE_DIR, { knownHosts }))).toHaveLength(11);
  });
});

describe('what a run selects', () => {
  const before = { at: 'then', inputs: baseline };
  const changed = inputsOf(withService({ maxBodySize: '20m' }));

  it('everything without a record, or on a full run', () => {
    expect(selectPlays({ inputs: changed, before: null })).toMatchObject({ full: true, parts: { common: ['lab-ansible', 'lab-certbot', 'lab-proxy', 'lab-whoami'], 'stage_proxy/stage_proxy': ['lab-proxy'] } });
    expect(selectPlays({ inputs: baseline, before, full: true }).full).toBe(true);
  });

  it('the changed parts on their hosts, every part on a host just applied, the parts that always run', () => {
    expect(selectPlays({ inputs: changed, before }).parts).toEqual({
      common: [],
      control_node: [],
      'passthrough/sni_passthrough': [],
      'passthrough/nginx_release': [],
      certificates: [],
      applications: [],
      'stage_proxy/stage_proxy': [],
      'stage_proxy/certificates': [],
      'stage_proxy/nginx_release': ['lab-proxy'],
    });
    const machines = { 'lab-whoami': 'vm:then', 'lab-proxy': 'vm:then' };
    expect(selectPlays({ inputs: baseline, before: { ...before, machines }, machines }).parts.common).toEqual([]);
    const replaced = { ...machines, 'lab-whoami': 'vm:now' };
    expect(selectPlays({ inputs: baseline, before: { ...before, machines }, machines: replaced }).parts).toMatchObject({ common: ['lab-whoami'], applications: ['lab-whoami'], 'stage_proxy/nginx_release': [] });
    const files: Site = { ...site, stages: { ...site.stages, lab: { ...site.stages.lab, tls: { ...site.stages.lab.tls, mode: 'files' } } } };
    expect(alwaysRun(site, 'lab', parts)).toEqual([]);
    expect(alwaysRun(files, 'lab', parts)).toEqual(['certificates', 'stage_proxy/certificates']);
    expect(selectPlays({ inputs: baseline, before, always: alwaysRun(files, 'lab', parts) }).parts).toMatchObject({ certificates: ['lab-ansible', 'lab-certbot'], 'stage_proxy/certificates': ['lab-proxy'], 'stage_proxy/nginx_release': [], common: [] });
  });

  it('writes the selection as homeprod_plays (a play’s hosts: those of any of its parts) and homeprod_roles, host names as data', () => {
    const text = playsVars(selectPlays({ inputs: changed, before }), parts);
    const vars = parseAnsibleYaml(text) as { homeprod_plays: Record<string, string[]>; homeprod_roles: Record<string, Record<string, string[]>> };
    expect(vars.homeprod_plays).toEqual({ common: [], control_node: [], passthrough: [], certificates: [], applications: [], stage_proxy: ['lab-proxy'] });
    expect(vars.homeprod_roles).toEqual({ passthrough: { sni_passthrough: [], nginx_release: [] }, stage_proxy: { stage_proxy: [], certificates: [], nginx_release: ['lab-proxy'] } });
    expect(text).toContain('- !unsafe lab-proxy');
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
    expect(selectPlays({ inputs: baseline, before: { at: 'then', inputs: baseline, machines: first }, machines: second }).parts).toMatchObject({ common: ['lab-whoami'], 'stage_proxy/nginx_release': [] });
  });
});
