// The connection to the PostgreSQL database of the `pg` state backend, from the same settings
// Terraform's pg backend reads: PG_CONN_STR, or the libpq PG* variables with a pgpass file for
// the password. Nothing is read from the site or written anywhere, and no message names the
// password: every error from the driver is scrubbed of it before it is shown.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EXIT, HomeprodError } from '../ui/errors';

export interface PgTarget {
  /** What the driver connects with (no password: that is asked for when the server wants it). */
  config: pg.ClientConfig;
  /** user@host:port/database, for messages. */
  where: string;
  /** The password, when one was found; only for the driver and for scrubbing. */
  password?: string;
  /** libpq's sslmode: disable, allow, prefer (the default), require, verify-ca, verify-full. */
  sslmode: string;
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** The settings libpq would use for `env`, as far as homeprod connects (one host, TCP or a socket dir). */
export function pgTarget(env: NodeJS.ProcessEnv = process.env): PgTarget {
  const url = env.PG_CONN_STR ? parseConnUrl(env.PG_CONN_STR) : {};
  const user = url.user ?? env.PGUSER ?? userInfo().username;
  const host = url.host ?? env.PGHOST ?? '/var/run/postgresql';
  const port = Number(url.port ?? env.PGPORT ?? 5432);
  const database = url.database ?? env.PGDATABASE ?? user;
  const sslmode = url.sslmode ?? env.PGSSLMODE ?? 'prefer';
  if (!SSLMODES.includes(sslmode)) throw new HomeprodError(`PGSSLMODE: "${sslmode}" is not one of ${SSLMODES.join(', ')}`, EXIT.usage);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new HomeprodError(`PGPORT: "${env.PGPORT}" is not a port`, EXIT.usage);
  const password = url.password ?? env.PGPASSWORD ?? pgpassLookup(env, { host, port, database, user });
  const timeout = Number(env.PGCONNECT_TIMEOUT ?? 10);
  return {
    config: { host, port, user, database, connectionTimeoutMillis: (timeout > 0 ? timeout : 10) * 1000 },
    where: `${user}@${host.startsWith('/') ? `[${host}]` : host}:${port}/${database}`,
    password,
    sslmode,
  };
}

/** `postgres://user:password@host:port/database?sslmode=...`, the form Terraform documents for PG_CONN_STR. */
function parseConnUrl(text: string): { user?: string; password?: string; host?: string; port?: string; database?: string; sslmode?: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HomeprodError('PG_CONN_STR is not a postgres:// URL', EXIT.usage, 'write it as postgres://USER@HOST:PORT/DATABASE and give the password in PGPASSWORD or a pgpass file');
  }
  if (!/^postgres(ql)?:$/.test(url.protocol)) throw new HomeprodError('PG_CONN_STR is not a postgres:// URL', EXIT.usage);
  const decoded = (s: string) => (s ? decodeURIComponent(s) : undefined);
  return {
    user: decoded(url.username),
    password: decoded(url.password),
    host: decoded(url.hostname.replace(/^\[|\]$/g, '')) ?? url.searchParams.get('host') ?? undefined,
    port: url.port || undefined,
    database: decoded(url.pathname.slice(1)),
    sslmode: url.searchParams.get('sslmode') ?? undefined,
  };
}

/**
 * The password from the pgpass file (PGPASSFILE, else ~/.pgpass), by libpq's rules: the first
 * line whose host:port:database:user fields match (`*` matches anything, `\` escapes `:`);
 * a socket directory matches `localhost`; a file that group or others can read is ignored.
 */
export function pgpassLookup(env: NodeJS.ProcessEnv, want: { host: string; port: number; database: string; user: string }): string | undefined {
  const file = env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass');
  if (!existsSync(file)) return undefined;
  const stat = statSync(file);
  if (!stat.isFile() || (stat.mode & 0o077) !== 0) return undefined;
  const host = want.host.startsWith('/') ? 'localhost' : want.host;
  const wanted = [host, String(want.port), want.database, want.user];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields.slice(4).join(':');
  }
  return undefined;
}

function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) field += line[++i];
    else if (c === ':') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  return [...fields, field];
}

/** `text` with the password replaced, for anything the driver or the server says. */
export function scrub(text: string, target: Pick<PgTarget, 'password'>): string {
  const secret = target.password;
  if (!secret) return text;
  return text.split(secret).join('***').split(encodeURIComponent(secret)).join('***');
}

function sslOptions(target: PgTarget, env: NodeJS.ProcessEnv): pg.ClientConfig['ssl'] {
  // libpq never uses TLS over a unix socket.
  if (target.sslmode === 'disable' || String(target.config.host).startsWith('/')) return false;
  if (target.sslmode !== 'verify-ca' && target.sslmode !== 'verify-full') return { rejectUnauthorized: false };
  const rootFile = env.PGSSLROOTCERT || join(env.HOME || homedir(), '.postgresql', 'root.crt');
  if (!existsSync(rootFile)) throw new HomeprodError(`PGSSLMODE is ${target.sslmode}, but the root certificate ${rootFile} does not exist`, EXIT.precondition, 'set PGSSLROOTCERT to the CA certificate of the database server');
  const ca = readFileSync(rootFile, 'utf8');
  return target.sslmode === 'verify-full' ? { ca } : { ca, checkServerIdentity: () => undefined };
}

async function open(target: PgTarget, ssl: pg.ClientConfig['ssl'], options: { applicationName: string; keepAlive?: boolean }): Promise<pg.Client> {
  const password = target.password;
  const client = new pg.Client({
    ...target.config,
    ssl,
    application_name: options.applicationName,
    keepAlive: options.keepAlive ?? false,
    // Asked only when the server wants one; a clear error instead of the driver's TypeError.
    password: async () => {
      if (password === undefined) throw new Error('the server asks for a password, and neither PGPASSWORD nor a pgpass file (PGPASSFILE, ~/.pgpass) has one');
      return password;
    },
  });
  // A connection that drops later must not crash the run; the next query reports it.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Connects as libpq would (prefer and allow fall back to plain text when the server has no TLS). */
export async function pgConnect(env: NodeJS.ProcessEnv = process.env, options: { applicationName?: string; keepAlive?: boolean } = {}): Promise<{ client: pg.Client; target: PgTarget }> {
  const target = pgTarget(env);
  const opts = { applicationName: options.applicationName ?? 'homeprod', keepAlive: options.keepAlive };
  try {
    const ssl = sslOptions(target, env);
    try {
      return { client: await open(target, ssl, opts), target };
    } catch (error) {
      const noTls = /does not support SSL/i.test((error as Error).message);
      if (!noTls || (target.sslmode !== 'prefer' && target.sslmode !== 'allow')) throw error;
      return { client: await open(target, false, opts), target };
    }
  } catch (error) {
    if (error instanceof HomeprodError) throw error;
    throw new HomeprodError(
      `cannot connect to the PostgreSQL database of the pg state backend (${target.where}): ${scrub((error as Error).message, target)}`,
      EXIT.precondition,
      'set PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD (or a pgpass file, PGPASSFILE), as for terraform; PGSSLMODE as libpq reads it',
    );
  }
}

/** Runs `fn` on a connection of its own and closes it; errors are scrubbed of the password. */
export async function withPg<T>(env: NodeJS.ProcessEnv, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const { client, target } = await pgConnect(env);
  try {
    return await fn(client);
  } catch (error) {
    if (error instanceof HomeprodError) throw error;
    throw new HomeprodError(`PostgreSQL (${target.where}): ${scrub((error as Error).message, target)}`, EXIT.failed);
  } finally {
    await client.end().catch(() => undefined);
  }
}
