// What the promotion gate says Terraform does to each prod host, read from the plans before
// anything is applied: created (also a VM planned after its new data disks), replaced, updated in
// place, planned once its data disks are applied, destroyed; with the model's reasons beside it.
// And where the gate stands in prod's steps: after the data-loss check, before the apply.
import { describe, expect, it } from '@jest/globals';
import { applySteps, machinePlans, type StageApplyResult } from '../../tasks/lib/apply';
import { actionOfAll } from '../../tasks/lib/apply/machines';
import { summarizePlan, type PlanSummary } from '../../tasks/lib/apply/plan';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { shortSummary, stageFacts, summarizePromotion, summaryLines } from '../../tasks/lib/promote';
import { stageSteps } from '../../tasks/lib/up/stage';

const site = loadSite('inventory/site.yaml');
const prodWhoami = site.hosts.find((h) => h.name === 'prod-whoami')!;

/** A plan of `stack` doing `actions` to one resource of `type` each. */
function plan(stack: string, resources: Array<[type: string, actions: string[]]>, destroy = false): PlanSummary {
  const resource_changes = resources.map(([type, actions], i) => ({ address: `${type}.r${i}`, mode: 'managed', type, change: { actions } }));
  return summarizePlan({ resource_changes }, { stack, planFile: `/plans/${stack}`, destroy, isData: () => false });
}

const stack = (name: string, kind: 'vm' | 'data', dependsOn: string[] = []) => ({ name, kind, dir: `/stacks/${name}`, dependsOn });
const TD = 'terraform_data';

/**
 * prod-wiki is new (its data stack is created, so its VM waits), prod-ansible's data disk grows
 * (its VM, applied before, waits), prod-whoami's machine is replaced, prod-old left the site.
 */
function prodResult(): StageApplyResult {
  const plans = [
    plan('prod-wiki-data-vm', [[TD, ['create']]]),
    plan('prod-ansible-data-vm', [[TD, ['update']]]),
    plan('prod-proxy-passthrough-vm', [[TD, ['no-op']]]),
    plan('prod-proxy-vm', [[TD, ['no-op']]]),
    plan('prod-whoami-vm', [[TD, ['delete', 'create']]]),
    plan('prod-old-vm', [[TD, ['delete']]], true),
  ];
  return {
    stacks: [
      stack('prod-wiki-data-vm', 'data'),
      stack('prod-ansible-data-vm', 'data'),
      stack('prod-proxy-passthrough-vm', 'vm'),
      stack('prod-proxy-vm', 'vm'),
      stack('prod-ansible-vm', 'vm', ['prod-ansible-data-vm']),
      stack('prod-whoami-vm', 'vm'),
      stack('prod-wiki-vm', 'vm', ['prod-wiki-data-vm']),
    ],
    orphans: [stack('prod-old-vm', 'vm')],
    keptOrphans: [],
    recorded: ['prod-ansible-data-vm', 'prod-ansible-vm', 'prod-old-vm', 'prod-proxy-passthrough-vm', 'prod-proxy-vm', 'prod-whoami-vm'],
    plans: Object.fromEntries(plans.map((p) => [p.stack, p])),
    deferred: ['prod-ansible-vm', 'prod-wiki-vm'],
    changed: false,
    outputs: [],
  };
}

const onProxmox = { stages: { ...site.stages, prod: { ...site.stages.prod, platform: 'proxmox' as const } } };

describe('what the plans do to each host', () => {
  it('names every host whose VM or data VM a plan changes, and how', () => {
    expect(machinePlans(site, 'prod', prodResult())).toEqual([
      { host: 'prod-old', vm: 'destroy', data: 'none' },
      { host: 'prod-wiki', vm: 'create', data: 'create' },
      { host: 'prod-ansible', vm: 'later', data: 'update' },
      { host: 'prod-whoami', vm: 'replace', data: 'none' },
    ]);
  });

  it("takes the platform's machine resource for the VM: a replaced snippet it reads only updates it", () => {
    const result = (resources: Array<[string, string[]]>): StageApplyResult => ({ ...prodResult(), stacks: [stack('prod-whoami-vm', 'vm')], orphans: [], deferred: [], plans: { 'prod-whoami-vm': plan('prod-whoami-vm', resources) } });
    const vmOf = (resources: Array<[string, string[]]>) => machinePlans(onProxmox, 'prod', result(resources))[0]?.vm ?? 'none';
    expect(vmOf([['proxmox_virtual_environment_file', ['delete', 'create']], ['proxmox_virtual_environment_vm', ['update']]])).toBe('update');
    expect(vmOf([['proxmox_virtual_environment_file', ['create', 'delete']], ['proxmox_virtual_environment_vm', ['delete', 'create']]])).toBe('replace');
    expect(vmOf([['proxmox_virtual_environment_download_file', ['update']], ['proxmox_virtual_environment_vm', ['no-op']]])).toBe('update');
    expect(vmOf([['proxmox_virtual_environment_file', ['no-op']], ['proxmox_virtual_environment_vm', ['no-op']]])).toBe('none');
    expect(vmOf([['proxmox_virtual_environment_file', ['create']], ['proxmox_virtual_environment_vm', ['create']]])).toBe('create');
  });

  it('a stack only created is new, one whose resources are partly created or deleted changes in place', () => {
    expect(actionOfAll(['create', 'create'])).toBe('create');
    expect(actionOfAll(['create', 'no-op'])).toBe('update');
    expect(actionOfAll(['delete', 'no-op'])).toBe('update');
    expect(actionOfAll(['delete'])).toBe('destroy');
    expect(actionOfAll(['update', 'replace'])).toBe('replace');
    expect(actionOfAll(['no-op', 'read'])).toBe('none');
  });
});

describe('the promotion summary with the plans', () => {
  const old = { ...prodWhoami, name: 'prod-old', ipv4: '10.111.1.30', ipSuffix: 30, vmid: 4030 };
  const wiki = { ...prodWhoami, name: 'prod-wiki', ipv4: '10.111.1.21', ipSuffix: 21, vmid: 4021 };
  const before = stageFacts({ ...site, hosts: [...site.hosts, old] }, 'prod');
  const after = stageFacts({ ...site, hosts: [...site.hosts.map((h) => (h === prodWhoami ? { ...h, cpu: 4 } : h)), wiki] }, 'prod');

  it("says per host what Terraform does, with the model's reasons", () => {
    const summary = summarizePromotion(before, after, ['site'], machinePlans(site, 'prod', prodResult()));
    expect(shortSummary(summary)).toBe(
      '0 services added, 0 changed, 0 removed; hosts: 1 created (prod-wiki), 1 replaced (prod-whoami), 1 planned once its data disks are applied (prod-ansible), 1 destroyed (prod-old)',
    );
    expect(summaryLines(summary)).toEqual([
      'Prod gets, compared with its last run:',
      '+ host prod-wiki: created; data VM created (application; 10.111.1.21)',
      `~ host prod-whoami: replaced (cpu ${prodWhoami.cpu} → 4)`,
      '~ host prod-ansible: planned once its data disks are applied; data VM updated in place',
      '- host prod-old: destroyed (application)',
    ]);
  });

  it('a host the model changes but Terraform leaves alone keeps its machine; a first promotion of existing hosts names none', () => {
    const summary = summarizePromotion(stageFacts(site, 'prod'), after, ['site'], []);
    expect(summaryLines(summary)).toContain(`~ host prod-whoami: changed, its machine stays as it is (cpu ${prodWhoami.cpu} → 4)`);
    const first = summarizePromotion(null, stageFacts(site, 'prod'), ['site'], []);
    expect(first.hosts).toEqual([]);
    expect(shortSummary(first)).toContain('; no hosts change');
  });
});

describe("prod's steps", () => {
  const opts = { siteFile: 'inventory/site.yaml', stages: ['prod' as const], yes: false, dryRun: false, force: false, allowDataLoss: false };

  it('refuse unverified content before Terraform, and ask after the plans and their data-loss check, before the apply', () => {
    const titles = stageSteps('prod', opts).map((s) => String(s.title));
    const at = (title: string) => titles.indexOf(title);
    expect(at('Check that prod may receive this content')).toBeGreaterThan(-1);
    expect(at('Check that prod may receive this content')).toBeLessThan(at('Prepare Terraform for the prod stage'));
    expect(at('Check the plans for data loss')).toBeGreaterThan(at('Plan the prod stacks'));
    expect(at('Promotion gate: prod only receives what verified in lab')).toBe(at('Check the plans for data loss') + 1);
    expect(at('Confirm the prod changes')).toBe(at('Promotion gate: prod only receives what verified in lab') + 1);
    expect(at('Apply the prod stacks')).toBe(at('Confirm the prod changes') + 1);
    expect(stageSteps('lab', { ...opts, stages: ['lab'] }).map((s) => String(s.title)).filter((t) => /romot|may receive/.test(t))).toEqual([]);
  });

  it('an answered promotion confirms the apply; without one the apply asks', () => {
    const confirm = applySteps({ stage: 'prod', site }).find((s) => s.title === 'Confirm the prod changes')!;
    const skip = confirm.skip as (ctx: object) => string | false;
    const applied = { prod: prodResult() };
    expect(skip({ applied, confirmed: { prod: 'Confirmed with the promotion' } })).toBe('Confirmed with the promotion');
    expect(skip({ applied })).toBe(false);
  });
});
