// A team on one site: two checkouts (A and B: separate state roots and synth directories, the
// same machines and the same PostgreSQL) with the pg state backend. Terraform's state, the run
// records, the applied stacks and the run lock all live in that database, so B promotes what A
// verified in lab, refuses what A did not, waits for nothing a killed run left behind, and
// destroys a host A applied. One bring-up of the site serves every assertion.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { cliSite, expectExit, ROOT, type CliSite } from '../helpers/cli-site';
import { startPostgres, type Postgres } from '../helpers/postgres';

const PREFIX = 'hpteam';
const ports = { httpPort: 19080, httpsPort: 19443 };
const pgBackend = (doc: Document) => {
  for (const stage of ['lab', 'prod']) doc.setIn(['stages', stage, 'state'], doc.createNode({ backend: 'pg', schemaPrefix: 'hpteam_' }));
};
// The team's shared secrets come from the environment, as in CI.
const vault = { HOMEPROD_VAULT_PASSWORD_LAB: `lab-vault-${process.pid}-team`, HOMEPROD_VAULT_PASSWORD_PROD: `prod-vault-${process.pid}-team` };
const a = cliSite({ prefix: PREFIX, ...ports, edit: pgBackend, env: vault, checkout: 'a' });
const b = cliSite({ prefix: PREFIX, ...ports, edit: pgBackend, env: { ...vault, HOMEPROD_STATE_DIR: join(a.state, 'local') }, checkout: 'b' });
let pg: Postgres | undefined;

const record = async (stage: string, kind: string) => JSON.parse((await pg!.query(`SELECT body FROM homeprod.records WHERE stage = '${stage}' AND kind = '${kind}'`)) || 'null') as { hash: string } | null;
const appliedStacks = async (stage: string) =>
  (JSON.parse(await pg!.query(`SELECT body FROM homeprod.records WHERE stage = '${stage}' AND kind = 'applied-stacks'`)) as { stacks: Array<{ name: string; config?: unknown }> }).stacks;

function editSite(site: CliSite, edit: (doc: Document) => void): void {
  const doc = parseDocument(readFileSync(site.siteFile, 'utf8'));
  edit(doc);
  writeFileSync(site.siteFile, doc.toString());
}

const addNotes = (doc: Document) =>
  (doc.get('services') as { add(v: unknown): void }).add(doc.createNode({ name: 'notes', stage: 'lab', hostnames: ['notes.lab.pegasuspad.com'], upstream: { host: 'lab-whoami', port: 8080 } }));

/** The pid recorded beside the run lock by the session that holds it now, or null. */
async function lockHolder(): Promise<number | null> {
  const pid = await pg!.query(
    "SELECT r.pid FROM pg_locks l JOIN homeprod.run_lock r ON r.backend_pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1752132965 AND l.objid = 1",
  );
  return pid ? Number(pid) : null;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  pg = await startPostgres();
  Object.assign(a.env, pg.env);
  Object.assign(b.env, pg.env);
}, 120_000);

afterAll(async () => {
  await a.cleanup();
  for (const dir of [b.work, b.synthDir]) rmSync(dir, { recursive: true, force: true });
  await pg?.stop();
}, 300_000);

describe('two checkouts of a pg-backend site', () => {
  it('A brings the site up; its records and applied stacks are in PostgreSQL, not in files', async () => {
    const r = await a.run('up', '--yes', '--site', a.siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
    // Without a terminal and without --verbose: step results only, no tool output.
    expect(r.stdout).not.toMatch(/^› /m);
    expect((await record('lab', 'verified'))?.hash).toBe((await record('prod', 'verified'))?.hash);
    expect((await appliedStacks('lab')).map((s) => s.name)).toContain('lab-certbot-vm');
    expect(existsSync(join(a.state, 'runs'))).toBe(false);
    expect(existsSync(join(a.state, 'terraform', 'applied-lab.json'))).toBe(false);
    // B is a checkout like A: the same control keys (the team's, shared like the vault passwords).
    cpSync(join(a.state, 'keys'), join(b.state, 'keys'), { recursive: true });
  }, 1_200_000);

  it('a run in B while A holds the lock exits 5 naming A; SIGKILL of A frees the lock at once, and B refuses to promote what lab did not verify', async () => {
    for (const site of [a, b]) editSite(site, addNotes);
    const child = spawn('npx', ['--no-install', 'tsx', 'tasks/up.ts', '--yes', '--stage', 'lab', '--site', a.siteFile], { cwd: ROOT, env: a.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let holder: number | null = null;
    try {
      const deadline = Date.now() + 120_000;
      while ((holder = await lockHolder()) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(holder).not.toBeNull();
      // The holder is A's process (in the process group of the run we started).
      expect(Number(readFileSync(`/proc/${holder}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[2])).toBe(child.pid);
      const locked = await b.run('up', '--yes', '--stage', 'prod', '--site', b.siteFile);
      expectExit(locked, 5);
      expect(locked.stderr).toMatch(new RegExp(`another homeprod run holds the lock in PostgreSQL \\(homeprod@127\\.0\\.0\\.1:${pg!.port}/homeprod\\): pid ${holder} on ${hostname()} since \\S+ \\(tasks/up\\.ts --yes --stage lab --site \\S+\\)`));
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
    // The server ends the killed run's session, and its lock with it, at once.
    const killedAt = Date.now();
    while ((await lockHolder()) !== null && Date.now() - killedAt < 5_000) await new Promise((r) => setTimeout(r, 50));
    expect(await lockHolder()).toBeNull();
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    const refused = await b.run('up', '--yes', '--stage', 'prod', '--site', b.siteFile);
    expectExit(refused, 4);
    expect(refused.stderr).toContain('refusing to promote to prod: this content did not verify in lab (differs in site)');
  }, 600_000);

  it('A brings the change up in lab again and verifies it; --verbose labels every tool line', async () => {
    const r = await a.run('up', '--yes', '--verbose', '--stage', 'lab', '--site', a.siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/https:\/\/notes\.lab\.pegasuspad\.com\/\s+lab\s+.*\s+ok/);
    expect(r.stdout).toMatch(/^› \[lab-proxy-vm\] /m);
    expect(r.stdout).toMatch(/^› \[lab\] PLAY \[/m);
  }, 900_000);

  it('B promotes prod without verifying lab again: the gate reads what A recorded', async () => {
    const r = await b.run('up', '--yes', '--stage', 'prod', '--site', b.siteFile);
    expectExit(r, 0);
    expect(r.stdout).toContain('Promotion to prod: 0 services added, 0 changed, 0 removed; no hosts change; passthrough routes: 1 added (notes.lab.pegasuspad.com → lab), 0 removed (--yes)');
    expect(r.stdout).not.toMatch(/Verif(y|ied) lab/);
    // B's Terraform found A's state: nothing of prod was created again.
    expect(r.stdout).not.toMatch(/prod-\S+-vm: applied/);
    expect((await record('prod', 'verified'))?.hash).toBe((await record('lab', 'verified'))?.hash);
    expect(existsSync(join(b.state, 'runs'))).toBe(false);
  }, 900_000);

  it('B destroys a host A applied and the site no longer has, from the configuration PostgreSQL kept', async () => {
    expect(existsSync(join(b.synthDir, 'stacks', 'lab-certbot-vm'))).toBe(false);
    editSite(b, (doc) => {
      const hosts = doc.get('hosts') as { items: Array<{ get(k: string): unknown }>; delete(i: number): void };
      hosts.delete(hosts.items.findIndex((h) => h.get('name') === 'lab-certbot'));
    });
    const r = await b.run('apply', '--yes', '--stage', 'lab', '--site', b.siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/lab-certbot-vm: destroyed/);
    expect(r.stdout).toContain('kept, though their host left the site: lab-certbot-data-vm');
    const status = await b.run('local', 'status');
    expect(status.stdout).toMatch(/^lab-proxy\s+lab\s+\S+\s+running/m);
    expect(status.stdout).not.toMatch(/^lab-certbot\s/m);
    const names = (await appliedStacks('lab')).map((s) => s.name);
    expect(names).not.toContain('lab-certbot-vm');
    expect(names).toContain('lab-certbot-data-vm');
    expect(existsSync(join(b.synthDir, 'stacks', 'lab-certbot-vm'))).toBe(false);
  }, 600_000);

  it('the database password and the vault passwords reach no output and no file', async () => {
    const secrets = [pg!.password, ...Object.values(vault)];
    // Everything the pipeline wrote (the machines' own layers under local/ aside).
    const written = [a.state, b.state].flatMap((root) => readdirSync(root).filter((d) => d !== 'local').map((d) => join(root, d)));
    const texts = [...a.printed, ...b.printed, ...[...written, a.synthDir, b.synthDir].flatMap(filesUnder).map((f) => readFileSync(f, 'latin1'))];
    expect(texts.length).toBeGreaterThan(50);
    for (const secret of secrets) expect(texts.filter((t) => t.includes(secret)).length).toBe(0);
    // What PostgreSQL keeps holds no private key either.
    expect(await pg!.query("SELECT count(*) FROM homeprod.records WHERE body::text LIKE '%PRIVATE KEY%'")).toBe('0');
  }, 120_000);
});
