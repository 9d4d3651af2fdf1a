// The run lock of sites whose state is in PostgreSQL: a session-level advisory lock held by a
// connection the run keeps open until it ends. A run that dies for any reason (SIGKILL
// included) closes that connection, and the server releases the lock at once: there is never
// a stale lock to take over. Who holds it (pid, host, since when) is kept beside it in
// homeprod.run_lock, keyed by the holder's backend, so a refused run can say.
import type pg from 'pg';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Lock } from './lock';
import { pgConnect, scrub } from './pg';
import { ensureSchema, LOCK_CLASS, RUN_LOCK_KEY, SCHEMA, whoAmI } from './pg-store';

interface Holder {
  backend_pid: number;
  pid: number | null;
  host: string | null;
  since: Date | null;
  command: string | null;
}

/** The session that holds the run lock now, and what it recorded about itself. */
async function holderOf(client: pg.Client): Promise<Holder | null> {
  const recorded = (await client.query<{ t: string | null }>(`SELECT to_regclass('${SCHEMA}.run_lock')::text AS t`)).rows[0]?.t !== null;
  const sql = recorded
    ? `SELECT l.pid AS backend_pid, r.pid, r.host, r.since, r.command FROM pg_locks l LEFT JOIN ${SCHEMA}.run_lock r ON r.backend_pid = l.pid`
    : 'SELECT l.pid AS backend_pid, NULL::int AS pid, NULL AS host, NULL::timestamptz AS since, NULL AS command FROM pg_locks l';
  const rows = await client.query<Holder>(`${sql} WHERE l.locktype = 'advisory' AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 2 AND l.granted`, [LOCK_CLASS, RUN_LOCK_KEY]);
  return rows.rows[0] ?? null;
}

export function describeHolder(holder: Holder | null): string {
  if (!holder) return 'a run that has just ended';
  if (holder.pid === null) return `a run that has not recorded itself yet (PostgreSQL backend pid ${holder.backend_pid})`;
  return `pid ${holder.pid} on ${holder.host} since ${holder.since?.toISOString()} (${holder.command})`;
}

/** Takes the run lock in the database of the PG* environment, or refuses at once (exit 5) naming its holder. */
export async function acquirePgRunLock(env: NodeJS.ProcessEnv, what = 'homeprod run'): Promise<Lock> {
  const { client, target } = await pgConnect(env, { applicationName: `homeprod run lock (pid ${process.pid})`, keepAlive: true });
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_CLASS, RUN_LOCK_KEY]);
    if (!got.rows[0]?.ok) {
      const holder = describeHolder(await holderOf(client));
      throw new HomeprodError(`another ${what} holds the lock in PostgreSQL (${target.where}): ${holder}`, EXIT.locked, 'wait for it to finish, or stop it; a run that ends in any way releases the lock at once');
    }
    await ensureSchema(client);
    const me = whoAmI();
    // Rows of sessions that have ended are stale: only the holder writes here.
    await client.query(`DELETE FROM ${SCHEMA}.run_lock`);
    await client.query(`INSERT INTO ${SCHEMA}.run_lock (backend_pid, pid, host, since, command) VALUES (pg_backend_pid(), $1, $2, now(), $3)`, [me.pid, me.host, me.command]);
  } catch (error) {
    await client.end().catch(() => undefined);
    if (error instanceof HomeprodError) throw error;
    throw new HomeprodError(`taking the run lock in PostgreSQL (${target.where}) failed: ${scrub((error as Error).message, target)}`, EXIT.failed);
  }
  let released = false;
  client.once('end', () => {
    if (!released) process.stderr.write(`warning: the connection holding the run lock in PostgreSQL (${target.where}) was lost; another run may start now\n`);
  });
  const release = () => {
    if (released) return;
    released = true;
    // Ending the session releases the lock; the holder's row is stale from then on.
    void client.end().catch(() => undefined);
  };
  process.once('exit', release);
  return { release };
}
