// The apply layer on the local platform, for real: the Pegasus lab stage synthesized by
// stacks/main.ts and applied by Terraform, whose local-exec provisioners boot nspawn machines
// through tasks/local.ts. Then the same apply with the pg state backend. Own namespace
// prefix, state root and stack directory; afterAll cleans even when a test failed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applySteps, type ApplyContext, type ApplyOptions } from '../../tasks/lib/apply';
import { synthesizer } from '../../tasks/lib/synth';
import { EXIT, HomeprodError } from '../../tasks/lib/ui/errors';
import { runSteps } from '../../tasks/lib/ui/listr';
import { localConfig } from '../../tasks/lib/platform/local/config';
import { sshCommand } from '../../tasks/lib/platform/local/ssh';
import { loadSite } from '../../tasks/lib/model';
import type { HostOutput, Site } from '../../tasks/lib/model/types';
import { createTerraform } from '../../tasks/lib/apply/terraform';
import { startPostgres, type Postgres } from '../helpers/postgres';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PREFIX = `hpa${process.pid.toString(36).slice(-4)}`;
const stateRoot = mkdtempSync(join(tmpdir(), 'homeprod-apply-local-'));
// local-exec runs tasks/local.ts from three levels above each stack directory, so the stacks
// must live in a direct child of the project root; a name of our own keeps cdktf.out alone.
const outdir = join(ROOT, `cdktf.out.e2e-${PREFIX}`);
const testEnv = {
  HOMEPROD_NS_PREFIX: PREFIX,
  HOMEPROD_STATE_DIR: join(stateRoot, 'local'),
  HOMEPROD_STATE_ROOT: stateRoot,
};
const saved = Object.fromEntries(Object.keys(testEnv).map((k) => [k, process.env[k]]));
const cfg = localConfig({ ...process.env, ...testEnv });

const site = loadSite(join(ROOT, 'inventory', 'site.yaml'));
const labHosts = site.hosts.filter((h) => h.stage === 'lab');
let pg: Postgres | undefined;

function apply(options: Partial<ApplyOptions> & { site?: Site; tfStateDir?: string } = {}): Promise<ApplyContext> {
  const { tfStateDir = join(stateRoot, 'terraform'), ...rest } = options;
  return runSteps<ApplyContext>(
    applySteps({ stage: 'lab', site, yes: true, stateDir: stateRoot, synthesize: synthesizer({ outdir, tfStateDir }), ...rest }),
    {},
    { silent: true },
  );
}

function local(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/local.ts', ...args], { cwd: ROOT, env: { ...process.env, ...testEnv } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ code, out }));
  });
}

const expectedOutput = (name: string): HostOutput => {
  const h = labHosts.find((x) => x.name === name)!;
  return {
    name: h.name, stage: 'lab', roles: h.roles, ipv4: h.ipv4!, vmid: h.vmid, mac: h.mac,
    data_disks: h.dataDisks.map((d) => ({ label: d.label, mountpoint: d.mountpoint, read_only: d.readOnly, interface: d.interface })),
  };
};

/** False when the machine is gone (its spec removed) or does not answer. */
async function answers(host: string): Promise<boolean> {
  try {
    return (await sshCommand(host, 'true', { cfg, timeoutMs: 15_000 })).exitCode === 0;
  } catch {
    return false;
  }
}

async function expectHostnames(): Promise<void> {
  for (const host of labHosts) {
    const r = await sshCommand(host.name, 'hostname; ip -4 -o addr show dev eth0', { cfg, timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
    const [hostname, addr] = r.stdout.split('\n');
    expect(hostname).toBe(host.name);
    expect(addr).toContain(`inet ${host.ipv4}/`);
  }
}

beforeAll(() => {
  Object.assign(process.env, testEnv);
});

afterAll(async () => {
  const r = await local(['clean', '--destroy-data']);
  if (r.code !== 0) console.error(r.out);
  await pg?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(outdir, { recursive: true, force: true });
  rmSync(stateRoot, { recursive: true, force: true });
}, 180_000);

describe('apply on the local platform', () => {
  test('applies the lab stage, data disks first, and returns every host output', async () => {
    const ctx = await apply();
    const result = ctx.applied!.lab!;
    expect(result.changed).toBe(true);
    expect(result.stacks.slice(0, 2).map((s) => s.kind)).toEqual(['data', 'data']);
    expect(result.outputs).toEqual(labHosts.map((h) => expectedOutput(h.name)).sort((a, b) => a.name.localeCompare(b.name)));
  }, 600_000);

  test('each VM answers over SSH with its own hostname and address', expectHostnames, 120_000);

  test('a file on a data disk survives destroying and re-creating its VM through Terraform', async () => {
    const disk = labHosts.find((h) => h.name === 'lab-ansible')!.dataDisks[0]!;
    const marker = `kept-${Date.now()}`;
    expect((await sshCommand('lab-ansible', `echo ${marker} > ${disk.mountpoint}/marker && sync`, { cfg })).exitCode).toBe(0);

    // Destroy only the VM stack, through the same runner, then let apply re-create it.
    const tf = await createTerraform(stateRoot);
    const stack = { name: 'lab-ansible-vm', kind: 'vm' as const, dir: join(outdir, 'stacks', 'lab-ansible-vm') };
    const destroy = await tf.plan(stack, { destroy: true });
    expect([destroy.remove, destroy.dataLoss.length]).toEqual([1, 0]);
    await tf.apply(stack, destroy);
    expect(await answers('lab-ansible')).toBe(false);

    const ctx = await apply();
    expect(ctx.applied!.lab!.plans['lab-ansible-vm']).toMatchObject({ add: 1, remove: 0 });
    const r = await sshCommand('lab-ansible', `cat ${disk.mountpoint}/marker`, { cfg });
    expect(r.stdout.trim()).toBe(marker);
  }, 300_000);

  test('a second apply changes nothing', async () => {
    const ctx = await apply();
    const result = ctx.applied!.lab!;
    expect(result.changed).toBe(false);
    expect(result.deferred).toEqual([]);
    expect(Object.values(result.plans).filter((p) => !p.empty).map((p) => p.stack)).toEqual([]);
  }, 120_000);

  test('a plan that would replace a data disk is stopped before anything is applied', async () => {
    const bigger: Site = structuredClone(site);
    const host = bigger.hosts.find((h) => h.name === 'lab-certbot')!;
    host.dataDisks[0]!.size += 1;
    const error = await apply({ site: bigger }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(HomeprodError);
    expect((error as HomeprodError).exitCode).toBe(EXIT.refused);
    expect((error as HomeprodError).details.join('\n')).toContain('lab-certbot-data-vm');
    const again = await apply({ dryRun: true });
    expect(Object.values(again.applied!.lab!.plans).every((p) => p.empty)).toBe(true);
  }, 120_000);

  test('clean forgets the machines it removed, so the next apply boots them again on the kept disks', async () => {
    const r = await local(['clean']);
    expect(r.code).toBe(0);
    for (const host of labHosts) expect(r.out).toContain(`removed the terraform state of ${host.name}-vm`);
    expect(r.out).not.toContain('-data-vm');
    const ctx = await apply();
    expect(Object.values(ctx.applied!.lab!.plans).filter((p) => !p.empty).map((p) => p.stack).sort()).toEqual(labHosts.map((h) => `${h.name}-vm`).sort());
    await expectHostnames();
  }, 300_000);

  test('destroy keeps the data disks; --destroy-data removes them', async () => {
    await apply({ destroy: true });
    const status = await local(['status']);
    expect(status.code).toBe(0);
    for (const host of labHosts) expect(await answers(host.name)).toBe(false);
    expect(status.out).toContain('disk lab-ansible-data: ansible');
    const ctx = await apply({ destroy: true, destroyData: true });
    expect(Object.values(ctx.applied!.lab!.plans).filter((p) => !p.empty).map((p) => p.stack).sort()).toEqual(['lab-ansible-data-vm', 'lab-certbot-data-vm']);
    expect((await local(['status'])).out).not.toContain('disk lab-');
  }, 300_000);

  test('the same apply works with the pg state backend, one schema per stack', async () => {
    pg = await startPostgres();
    const pgSite: Site = structuredClone(site);
    pgSite.stages.lab.state = { backend: 'pg', schemaPrefix: 'hpe2e_' };
    const ctx = await apply({ site: pgSite, terraformEnv: pg.env });
    expect(ctx.applied!.lab!.outputs.map((o) => o.name)).toEqual(labHosts.map((h) => h.name).sort());
    const schemas = (await pg.query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'hpe2e\\_%' ORDER BY 1")).split('\n');
    expect(schemas).toEqual(ctx.applied!.lab!.stacks.map((s) => `hpe2e_${s.name.replace(/-/g, '_')}`).sort());
    await expectHostnames();
    const again = await apply({ site: pgSite, terraformEnv: pg.env });
    expect(again.applied!.lab!.changed).toBe(false);
    await apply({ site: pgSite, terraformEnv: pg.env, destroy: true, destroyData: true });
  }, 600_000);

  test('clean leaves no namespace or process behind', async () => {
    const r = await local(['clean', '--destroy-data']);
    expect(r.code).toBe(0);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(netns.split('\n').filter((l) => l.startsWith(`${PREFIX}-`))).toEqual([]);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((l) => l.includes(`/run/netns/${PREFIX}-`) || l.includes(stateRoot))).toEqual([]);
  }, 120_000);
});
