// applySteps end to end on hand-written terraform_data stacks: real terraform, real order,
// real gates; only the synthesizer is a fixture (what it returns is what synthStage returns).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySteps, orderStacks, type ApplyContext, type ApplyOptions } from '../../tasks/lib/apply';
import type { StageStacks } from '../../tasks/lib/synth';
import { EXIT, HomeprodError } from '../../tasks/lib/ui/errors';
import { runSteps } from '../../tasks/lib/ui/listr';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { createTerraform, type Terraform } from '../../tasks/lib/apply/terraform';
import { testHost, writeTestStack, type TestStack } from '../helpers/terraform-stacks';

describe('applySteps', () => {
  let root: string;
  let outdir: string;
  let journal: string;
  let tf: Terraform;
  let site: Site;
  let stacks: Record<string, TestStack>;

  const synthesize = (seen?: { allowDataDestroy?: boolean }): ApplyOptions['synthesize'] => (_site, _stage, options) => {
    if (seen) seen.allowDataDestroy = options.allowDataDestroy;
    const result: StageStacks = { outdir, stacks: Object.values(stacks).map((s) => writeTestStack(outdir, { ...s, preventDestroy: s.kind === 'data' && !options.allowDataDestroy })) };
    return result;
  };
  const run = (opts: Partial<ApplyOptions> = {}, seen?: { allowDataDestroy?: boolean }) =>
    runSteps<ApplyContext>(applySteps({ stage: 'lab', site, terraform: tf, synthesize: synthesize(seen), yes: true, ...opts }), {}, { silent: true });
  const entries = () => (existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n') : []);
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(HomeprodError);
    return error as HomeprodError;
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'homeprod-apply-'));
    outdir = join(root, 'cdktf.out');
    journal = join(root, 'journal');
    tf = await createTerraform(join(root, 'state'));
    site = loadSite('inventory/site.yaml');
    const disks = [{ label: 'data', mountpoint: '/srv/data', read_only: false, interface: 'scsi1' }];
    stacks = {
      proxy: { name: 'lab-proxy-vm', kind: 'vm', dependsOn: [], resources: { vm: { n: 1 } }, host: testHost('lab-proxy', '10.111.2.11', 5011), journal },
      app: { name: 'lab-app-vm', kind: 'vm', dependsOn: ['lab-app-data-vm'], resources: { vm: { n: 1 } }, host: testHost('lab-app', '10.111.2.20', 5020, disks), journal },
      data: { name: 'lab-app-data-vm', kind: 'data', dependsOn: [], resources: { disk: { size: 1 } }, triggers: { disk: 'v1' }, journal },
    };
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('orders stacks after their dependencies, data first, and rejects cycles by name', () => {
    const order = orderStacks([
      { name: 'a-vm', kind: 'vm', dependsOn: ['a-data-vm'] },
      { name: 'b-vm', kind: 'vm', dependsOn: [] },
      { name: 'a-data-vm', kind: 'data', dependsOn: [] },
    ]);
    expect(order.map((s) => s.name)).toEqual(['a-data-vm', 'a-vm', 'b-vm']);
    expect(() => orderStacks([{ name: 'x', kind: 'vm', dependsOn: ['y'] }, { name: 'y', kind: 'vm', dependsOn: ['x'] }])).toThrow('cycle: x, y');
    expect(() => orderStacks([{ name: 'x', kind: 'vm', dependsOn: ['nope'] }])).toThrow('stack x depends on nope, which was not synthesized');
  });

  it('refuses without --yes when it cannot ask, before anything is applied', async () => {
    const error = await failure(run({ yes: false }));
    expect(error.exitCode).toBe(EXIT.refused);
    expect(error.message).toBe('Apply the lab stage (2 to add, 0 to change, 0 to destroy, and plan 1 more stack once their dependencies exist): needs a confirmation, and there is no terminal to ask');
    expect(error.hint).toBe('pass --yes to go ahead without asking');
    expect(entries()).toEqual([]);
  });

  it('does nothing on a dry run, and stops when the operator says no', async () => {
    const ctx = await run({ dryRun: true });
    expect(ctx.applied?.lab?.plans['lab-proxy-vm']?.add).toBe(1);
    expect(ctx.applied?.lab?.deferred).toEqual(['lab-app-vm']);
    expect(ctx.applied?.lab?.outputs).toEqual([]);
    const asked: string[] = [];
    const error = await failure(run({ yes: false, confirm: async (_task, message) => (asked.push(message), false) }));
    expect(asked).toHaveLength(1);
    expect(error.message).toBe('Did not apply the lab stage: not confirmed');
    expect(entries()).toEqual([]);
  });

  it('applies data stacks before the VMs that attach them, and returns the host outputs', async () => {
    const seen: { allowDataDestroy?: boolean } = {};
    const ctx = await run({ confirm: async () => true, yes: false }, seen);
    expect(seen.allowDataDestroy).toBe(false);
    const result = ctx.applied!.lab!;
    expect(result.changed).toBe(true);
    expect(result.deferred).toEqual(['lab-app-vm']);
    expect(entries().indexOf('+lab-app-data-vm.disk')).toBeLessThan(entries().indexOf('+lab-app-vm.vm'));
    expect(entries().sort()).toEqual(['+lab-app-data-vm.disk', '+lab-app-vm.vm', '+lab-proxy-vm.vm']);
    expect(result.outputs.map((o) => o.name)).toEqual(['lab-app', 'lab-proxy']);
    expect(result.outputs[0]?.data_disks).toEqual([{ label: 'data', mountpoint: '/srv/data', read_only: false, interface: 'scsi1' }]);
  });

  it('changes nothing the second time', async () => {
    const ctx = await run({ yes: false });
    const result = ctx.applied!.lab!;
    expect(result.changed).toBe(false);
    expect(result.deferred).toEqual([]);
    expect(Object.values(result.plans).every((p) => p.empty)).toBe(true);
    expect(result.outputs).toHaveLength(2);
    expect(entries()).toHaveLength(3);
  });

  it('stops before any apply when a data disk would be replaced, naming it', async () => {
    stacks.data = { ...stacks.data!, triggers: { disk: 'v2' } };
    stacks.proxy = { ...stacks.proxy!, resources: { vm: { n: 2 } } };
    const error = await failure(run());
    expect(error.exitCode).toBe(EXIT.refused);
    expect(error.message).toContain('refusing to plan lab-app-data-vm');
    expect(error.details).toEqual(['lab-app-data-vm: terraform_data.disk would be destroyed']);
    // Without prevent_destroy (a stack synthesized for data destruction) our own gate stops it.
    const gate = await failure(
      runSteps<ApplyContext>(
        applySteps({ stage: 'lab', site, terraform: tf, yes: true, synthesize: () => ({ outdir, stacks: Object.values(stacks).map((s) => writeTestStack(outdir, s)) }) }),
        {},
        { silent: true },
      ),
    );
    expect(gate.exitCode).toBe(EXIT.refused);
    expect(gate.details).toEqual(['lab-app-data-vm: terraform_data.disk would be replaced']);
    expect(entries()).toHaveLength(3);
    expect((await tf.outputs({ name: 'lab-proxy-vm', kind: 'vm', dir: join(outdir, 'stacks', 'lab-proxy-vm') })).host).toBeDefined();
  });

  it('replaces it with --allow-data-loss', async () => {
    const seen: { allowDataDestroy?: boolean } = {};
    const ctx = await run({ allowDataLoss: true }, seen);
    expect(seen.allowDataDestroy).toBe(true);
    expect(ctx.applied!.lab!.plans['lab-app-data-vm']?.dataLoss).toHaveLength(1);
    expect(entries().slice(3).sort()).toEqual(['+lab-app-data-vm.disk', '-lab-app-data-vm.disk']);
  });

  it('destroys only the stacks of the hosts it is given, and refuses a host of another stage', async () => {
    const before = entries().length;
    await run({ destroy: true, hosts: ['lab-proxy'] });
    expect(entries().slice(before)).toEqual(['-lab-proxy-vm.vm']);
    await run();
    expect(entries().slice(before + 1)).toEqual(['+lab-proxy-vm.vm']);
    const error = await failure(run({ destroy: true, hosts: ['prod-proxy'] }));
    expect([error.exitCode, error.message]).toEqual([EXIT.usage, expect.stringContaining('--host prod-proxy: not a host of stage lab in the site')]);
    expect(entries()).toHaveLength(before + 2);
  });

  it('destroys in reverse order and keeps data stacks unless asked', async () => {
    const before = entries().length;
    const ctx = await run({ destroy: true });
    expect(ctx.applied!.lab!.plans['lab-app-data-vm']).toBeUndefined();
    expect(entries().slice(before).sort()).toEqual(['-lab-app-vm.vm', '-lab-proxy-vm.vm']);
    const seen: { allowDataDestroy?: boolean } = {};
    await run({ destroy: true, destroyData: true }, seen);
    expect(seen.allowDataDestroy).toBe(true);
    expect(entries().slice(before + 2)).toEqual(['-lab-app-data-vm.disk']);
  });

  it('destroys the VM stack of a host that left the site and keeps its data stack, even through down --destroy-data', async () => {
    await run();
    const before = entries().length;
    const { app, data } = stacks;
    delete stacks.app;
    delete stacks.data;
    try {
      const dryRun = await run({ dryRun: true });
      expect(dryRun.applied!.lab!.orphans.map((s) => s.name)).toEqual(['lab-app-vm']);
      expect(dryRun.applied!.lab!.plans['lab-app-vm']?.remove).toBe(1);
      expect(entries()).toHaveLength(before);

      const ctx = await run();
      expect(entries().slice(before)).toEqual(['-lab-app-vm.vm']);
      expect(ctx.applied!.lab!.keptOrphans).toEqual(['lab-app-data-vm']);
      expect(ctx.applied!.lab!.outputs.map((o) => o.name)).toEqual(['lab-proxy']);
      expect(existsSync(join(outdir, 'stacks', 'lab-app-vm'))).toBe(false);
      expect(existsSync(join(outdir, 'stacks', 'lab-app-data-vm', 'cdk.tf.json'))).toBe(true);

      const again = await run();
      expect([again.applied!.lab!.orphans, again.applied!.lab!.keptOrphans, entries().length]).toEqual([[], ['lab-app-data-vm'], before + 1]);

      const down = await run({ destroy: true, destroyData: true });
      expect(entries().slice(before + 1)).toEqual(['-lab-proxy-vm.vm']);
      expect(down.applied!.lab!.keptOrphans).toEqual(['lab-app-data-vm']);
    } finally {
      Object.assign(stacks, { app, data });
    }
    // Back in the site, the host gets a new VM on the data disk that was kept.
    await run();
    expect(entries().slice(before + 2).sort()).toEqual(['+lab-app-vm.vm', '+lab-proxy-vm.vm']);
    expect((await run({ dryRun: true })).applied!.lab!.keptOrphans).toEqual([]);
  });

  it('says when a proxmox cluster does not answer', async () => {
    const proxmox: Site = structuredClone(site);
    proxmox.stages.lab = { ...proxmox.stages.lab, platform: 'proxmox', proxmox: { ...proxmox.stages.lab.proxmox, endpoint: 'https://127.0.0.1:1/' } };
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, PROXMOX_VE_API_TOKEN: 'terraform@pve!homeprod=not-asked' };
    const error = await failure(runSteps<ApplyContext>(applySteps({ stage: 'lab', site: proxmox, terraform: tf, synthesize: synthesize(), env }), {}, { silent: true }));
    expect(error.exitCode).toBe(EXIT.precondition);
    // The doctor's checks: the API's line among the others this bare environment has (no agent, ...).
    expect(error.message).toMatch(/^stages\.lab: the Proxmox cluster is not ready \(\d+ problems\):$/);
    expect(error.details).toContainEqual(expect.stringMatching(/^stages\.lab\.proxmox\.endpoint: https:\/\/127\.0\.0\.1:1\/ does not answer \(.*ECONNREFUSED.*\)/));
    expect(error.hint).toContain('nothing was applied');
  });
});
