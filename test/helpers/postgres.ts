// A real, throwaway PostgreSQL for the pg state backend tests: initdb into a temporary
// directory, listening on 127.0.0.1 at a free port and a private unix socket, password
// auth. PostgreSQL refuses to run as root, so as root the server runs as `nobody`.
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { $ } from 'zx';

export interface Postgres {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The standard libpq variables terraform's pg backend reads (includes the password). */
  env: Record<string, string>;
  password: string;
  /** Runs one SQL statement with psql; returns unaligned, tuples-only output. */
  query(sql: string): Promise<string>;
  stop(): Promise<void>;
}

const RUN_AS = { name: 'nobody', uid: 65534, gid: 65534 };

/** Debian keeps initdb and pg_ctl off PATH, in /usr/lib/postgresql/<version>/bin. */
export async function postgresBinDir(): Promise<string> {
  const onPath = await $({ quiet: true, nothrow: true })`command -v initdb`;
  if (onPath.exitCode === 0) return join(onPath.stdout.trim(), '..');
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
  if (!found) throw new Error('PostgreSQL server binaries not found (install the Debian package "postgresql")');
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startPostgres(): Promise<Postgres> {
  const bin = await postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'homeprod-pg-'));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const password = randomBytes(18).toString('base64url');
  const user = 'homeprod';
  const database = 'homeprod';
  const port = await freePort();
  // Runs a server binary as the unprivileged owner of the data directory.
  const server = (cmd: string, args: string[]) =>
    asRoot ? $({ quiet: true })`runuser -u ${RUN_AS.name} -- ${join(bin, cmd)} ${args}` : $({ quiet: true })`${join(bin, cmd)} ${args}`;

  const stop = async () => {
    if (existsSync(join(data, 'postmaster.pid'))) {
      const stopped = await (asRoot
        ? $({ quiet: true, nothrow: true })`runuser -u ${RUN_AS.name} -- ${join(bin, 'pg_ctl')} ${['-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop']}`
        : $({ quiet: true, nothrow: true })`${join(bin, 'pg_ctl')} ${['-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop']}`);
      if (stopped.exitCode !== 0 && existsSync(join(data, 'postmaster.pid'))) {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chmodSync(dir, 0o700);
    if (asRoot) {
      chownSync(dir, RUN_AS.uid, RUN_AS.gid);
      chownSync(pwfile, RUN_AS.uid, RUN_AS.gid);
    }
    await server('initdb', ['-D', data, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync', '--locale=C']);
    rmSync(pwfile);
    // Loopback and a private socket only; fsync off: a test database, thrown away afterwards.
    const serverOptions = `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir} -c fsync=off -c full_page_writes=off`;
    await $({ quiet: true })`mkdir -m 0700 ${socketDir}`;
    if (asRoot) chownSync(socketDir, RUN_AS.uid, RUN_AS.gid);
    await server('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', serverOptions, 'start']);
  } catch (error) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : '';
    await stop();
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
  }

  const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: database, PGSSLMODE: 'disable' };
  const query = async (sql: string, db = database) =>
    (await $({ quiet: true, env: { ...process.env, ...env, PGDATABASE: db } })`psql ${['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]}`).stdout.trim();
  try {
    await query(`CREATE DATABASE ${database}`, 'postgres');
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: '127.0.0.1', port, user, database, env, password, query: (sql) => query(sql), stop };
}
