// The records, the applied stacks and the run lock of a pg-backend site, against a real
// PostgreSQL: the homeprod schema made on first use, files of earlier runs taken over once,
// an advisory lock that names its holder and is free the moment the holder dies, and
// credentials that never show in an error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppliedStacks } from '../../tasks/lib/apply/applied-stacks';
import { orphansOf } from '../../tasks/lib/apply/stacks';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { readRecord, recordConfigured, recordVerified } from '../../tasks/lib/promote';
import { pgConnect, pgpassLookup } from '../../tasks/lib/shared/pg';
import { acquireSiteLock } from '../../tasks/lib/shared/run-lock';
import { fileStore, storesFor } from '../../tasks/lib/shared/store';
import { EXIT, HomeprodError } from '../../tasks/lib/ui/errors';
import { startPostgres, type Postgres } from '../helpers/postgres';

let pg: Postgres;
const work = mkdtempSync(join(tmpdir(), 'homeprod-pg-store-'));
const base = loadSite('inventory/site.yaml');
const pgSite: Site = { ...base, stages: { lab: { ...base.stages.lab, state: { backend: 'pg', schemaPrefix: 'hpu_' } }, prod: { ...base.stages.prod, state: { backend: 'pg', schemaPrefix: 'hpu_' } } } };
const snapshot = (hash: string) => ({ hash, files: { site: hash } });
/** The environment of a checkout whose state root is work/<name>. */
const checkout = (name: string) => ({ ...process.env, ...pg.env, HOMEPROD_STATE_ROOT: join(work, name) });
const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(HomeprodError);
  return error as HomeprodError;
};

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('records of a pg-backend site', () => {
  it('live in the homeprod schema, made on first use, and in no file', async () => {
    expect(await pg.query("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'homeprod'")).toBe('0');
    const env = checkout('a');
    const stores = storesFor(pgSite, { env });
    expect(await readRecord(stores, 'verified', 'lab')).toBeNull();
    await recordVerified(stores, 'lab', snapshot('one'));
    expect(await pg.query("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'homeprod'")).toBe('records,run_lock,taken_over');
    expect((await readRecord(stores, 'verified', 'lab'))?.hash).toBe('one');
    // Another checkout (another state root) reads the same record.
    expect((await readRecord(storesFor(pgSite, { env: checkout('b') }), 'verified', 'lab'))?.hash).toBe('one');
    expect(await pg.query("SELECT kind || ':' || (body->>'hash') FROM homeprod.records WHERE stage = 'lab' ORDER BY kind")).toBe('run:one\nverified:one');
    expect(existsSync(join(work, 'a'))).toBe(false);
  });

  it('takes the files of earlier runs over on the first locked run, once', async () => {
    const env = checkout('c');
    const root = join(work, 'c');
    const files = fileStore(root);
    await recordConfigured(() => files, 'prod', snapshot('from-file'));
    writeFileSync(join(root, 'runs', 'lab-verified.json'), JSON.stringify({ stage: 'lab', at: '2020-01-01T00:00:00.000Z', ...snapshot('stale') }));
    // Before the takeover (a dry run takes no lock) the files still count.
    expect((await readRecord(storesFor(pgSite, { env }), 'run', 'prod'))?.hash).toBe('from-file');

    const said: string[] = [];
    const lock = await acquireSiteLock(pgSite, { env, say: (line) => said.push(line) });
    lock.release();
    expect(said).toEqual([
      'PostgreSQL already has the lab verified record of another checkout and keeps it; runs/lab-verified.json is kept as runs/lab-verified.json.taken-over',
      'Took runs/prod-run.json over into PostgreSQL (homeprod.records, prod run); the file is kept as runs/prod-run.json.taken-over',
    ]);
    expect(existsSync(join(root, 'runs', 'prod-run.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(root, 'runs', 'prod-run.json.taken-over'), 'utf8')).hash).toBe('from-file');
    const stores = storesFor(pgSite, { env });
    expect((await readRecord(stores, 'run', 'prod'))?.hash).toBe('from-file');
    expect((await readRecord(stores, 'verified', 'lab'))?.hash).toBe('one');

    // A file that shows up again (an older homeprod, a copy) is not taken over a second time.
    await recordConfigured(() => files, 'prod', snapshot('again'));
    const second: string[] = [];
    const again = await acquireSiteLock(pgSite, { env, say: (line) => second.push(line) });
    again.release();
    expect(second).toEqual([]);
    expect((await readRecord(stores, 'run', 'prod'))?.hash).toBe('from-file');
    expect(await pg.query("SELECT count(*) FROM homeprod.taken_over WHERE source LIKE '%/c'")).toBe('2');
  });
});

describe('the run lock in PostgreSQL', () => {
  it('refuses a second run with exit 5, naming the holder, and is free the moment the holder is killed', async () => {
    const child = spawn('node', ['--import', 'tsx', 'test/fixtures/hold-pg-lock.ts'], { env: checkout('d'), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 60_000;
      while (!out.includes('locked') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('locked');
      const refused = await failure(acquireSiteLock(pgSite, { env: checkout('e') }));
      expect(refused.exitCode).toBe(EXIT.locked);
      expect(refused.message).toMatch(new RegExp(`^another homeprod run holds the lock in PostgreSQL \\(homeprod@127\\.0\\.0\\.1:${pg.port}/homeprod\\): pid ${child.pid} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(test/fixtures/hold-pg-lock\\.ts\\)$`));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const started = Date.now();
    const lock = await acquireSiteLock(pgSite, { env: checkout('e') });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pg.query('SELECT pid FROM homeprod.run_lock')).toBe(String(process.pid));
    lock.release();
  }, 90_000);

  it('a site whose stages keep local state keeps the lock file', async () => {
    const env = checkout('f');
    const lock = await acquireSiteLock(base, { env });
    expect(readFileSync(join(work, 'f', 'run.lock'), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});

describe('the applied stacks of a pg-backend stage', () => {
  it('keep the configuration, so a checkout that never synthesized a stack can destroy it', async () => {
    const dirA = join(work, 'a-out', 'stacks', 'lab-gone-vm');
    mkdirSync(dirA, { recursive: true });
    const config = { terraform: { backend: { pg: { schema_name: 'hpu_lab_gone_vm' } } }, resource: { terraform_data: { vm: { input: { key: 'ssh-ed25519 AAAA op' } } } } };
    writeFileSync(join(dirA, 'cdk.tf.json'), JSON.stringify(config));
    const inA = new AppliedStacks(storesFor(pgSite, { env: checkout('a') })('lab'), 'lab');
    await inA.update([{ name: 'lab-gone-vm', kind: 'vm', dependsOn: [], dir: dirA }, { name: 'lab-gone-data-vm', kind: 'data', dependsOn: [], dir: join(work, 'a-out', 'stacks', 'lab-gone-data-vm') }], []);
    const inB = new AppliedStacks(storesFor(pgSite, { env: checkout('b') })('lab'), 'lab');
    const { orphans, keptOrphans } = await orphansOf(inB, [], join(work, 'b-out'));
    expect(orphans.map((o) => [o.name, o.dir])).toEqual([['lab-gone-vm', join(work, 'b-out', 'stacks', 'lab-gone-vm')]]);
    expect(JSON.parse(readFileSync(join(work, 'b-out', 'stacks', 'lab-gone-vm', 'cdk.tf.json'), 'utf8'))).toEqual(config);
    expect(keptOrphans).toEqual(['lab-gone-data-vm']);
  });

  it('refuse, before anything is applied, a configuration that holds a secret', async () => {
    const dir = join(work, 'secret-out', 'stacks', 'lab-leaky-vm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cdk.tf.json'), JSON.stringify({ resource: { x: { y: { key: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n' } } } }));
    const record = new AppliedStacks(storesFor(pgSite, { env: checkout('a') })('lab'), 'lab');
    let error: unknown;
    try {
      record.assertStorable([{ name: 'lab-leaky-vm', dir }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HomeprodError);
    expect((error as HomeprodError).exitCode).toBe(EXIT.refused);
    expect((error as HomeprodError).message).toBe('lab-leaky-vm: its configuration would be recorded in PostgreSQL homeprod.records (stage lab, kind applied-stacks), where every checkout reads it, but it contains a private key; nothing was applied');
    // A file store is this checkout's own, as before: nothing is copied into it.
    expect(() => new AppliedStacks(fileStore(join(work, 'g')), 'lab').assertStorable([{ name: 'lab-leaky-vm', dir }])).not.toThrow();
  });
});

describe('credentials', () => {
  it('a refused password is never part of the error', async () => {
    const wrong = `wrong-${process.pid}-Secret`;
    const error = await failure(pgConnect({ ...pg.env, PGPASSWORD: wrong }));
    expect(error.exitCode).toBe(EXIT.precondition);
    expect(error.message).toContain(`homeprod@127.0.0.1:${pg.port}/homeprod`);
    expect(error.message).toContain('password authentication failed');
    const url = await failure(pgConnect({ PG_CONN_STR: `postgres://homeprod:${wrong}@127.0.0.1:${pg.port}/homeprod?sslmode=disable` }));
    for (const e of [error, url]) expect([e.message, e.hint ?? '', ...e.details, e.stack ?? ''].join('\n')).not.toContain(wrong);
    // A closed port: the error names where, and still no password.
    const closed = await failure(pgConnect({ ...pg.env, PGPORT: '1', PGPASSWORD: wrong }));
    expect(closed.message).toMatch(/cannot connect .*homeprod@127\.0\.0\.1:1\/homeprod.*ECONNREFUSED/);
    expect(closed.message).not.toContain(wrong);
  });

  it('without PGSSLMODE, TLS is preferred as libpq does, and a server without it is reached in plain text', async () => {
    const { PGSSLMODE: _mode, ...preferred } = pg.env;
    const { client } = await pgConnect(preferred);
    expect((await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl).toBe(false);
    await client.end();
    const required = await failure(pgConnect({ ...preferred, PGSSLMODE: 'require' }));
    expect(required.message).toContain('does not support SSL');
  });

  it('come from a pgpass file by libpq\'s rules when PGPASSWORD is unset', async () => {
    const file = join(work, 'pgpass');
    const { PGPASSWORD: _password, ...noPassword } = pg.env;
    writeFileSync(file, `# a comment\nother:*:*:*:nope\n127.0.0.1:${pg.port}:homeprod:homeprod:${pg.password.replace(/:/g, '\\:')}\n`, { mode: 0o600 });
    const { client } = await pgConnect({ ...noPassword, PGPASSFILE: file });
    expect((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe('homeprod');
    await client.end();
    expect(pgpassLookup({ PGPASSFILE: file }, { host: '/run/postgresql', port: 5432, database: 'x', user: 'y' })).toBeUndefined();
    writeFileSync(file, 'localhost:5432:*:y:a\\:b\\\\c\n');
    expect(pgpassLookup({ PGPASSFILE: file }, { host: '/run/postgresql', port: 5432, database: 'x', user: 'y' })).toBe('a:b\\c');
    // Readable by others: ignored, as libpq ignores it.
    chmodSync(file, 0o644);
    expect(pgpassLookup({ PGPASSFILE: file }, { host: 'localhost', port: 5432, database: 'x', user: 'y' })).toBeUndefined();
    const none = await failure(pgConnect({ ...noPassword, PGPASSFILE: file }));
    expect(none.message).toContain('the server asks for a password, and neither PGPASSWORD nor a pgpass file');
  });
});
