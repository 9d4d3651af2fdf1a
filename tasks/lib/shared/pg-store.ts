// The documents of stages with the pg state backend, in the same database as their Terraform
// state: the `homeprod` schema, made on first use. Each operation has a connection of its own
// (a run makes a handful), so nothing stays open between steps. Documents that earlier runs
// of this checkout wrote as files are taken over once, when a run first takes the lock.
import { existsSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import type pg from 'pg';
import type { StageName } from '../model/types';
import { DOCUMENT_KINDS, documentFile, type DocumentKind, readDocumentFile, type StateStore } from './documents';
import { withPg } from './pg';

export const SCHEMA = 'homeprod';
/** The advisory lock keys homeprod uses: ('home', 1) is the run lock, ('home', 2) guards the DDL. */
export const LOCK_CLASS = 0x686f6d65;
export const RUN_LOCK_KEY = 1;
const DDL_LOCK_KEY = 2;

const DDL = `
CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
CREATE TABLE IF NOT EXISTS ${SCHEMA}.records (
  stage text NOT NULL,
  kind text NOT NULL,
  body jsonb NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  written_by text NOT NULL,
  PRIMARY KEY (stage, kind)
);
CREATE TABLE IF NOT EXISTS ${SCHEMA}.taken_over (
  source text NOT NULL,
  stage text NOT NULL,
  kind text NOT NULL,
  file text NOT NULL,
  kept text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, stage, kind)
);
CREATE TABLE IF NOT EXISTS ${SCHEMA}.run_lock (
  backend_pid integer PRIMARY KEY,
  pid integer NOT NULL,
  host text NOT NULL,
  since timestamptz NOT NULL,
  command text NOT NULL
);
`;

/** Creates the schema unless this connection's database has it; concurrent first runs wait for each other. */
export async function ensureSchema(client: pg.Client): Promise<void> {
  const found = await client.query<{ t: string | null }>(`SELECT to_regclass('${SCHEMA}.run_lock')::text AS t`);
  if (found.rows[0]?.t === null) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, DDL_LOCK_KEY]);
      await client.query(DDL);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

const hasSchema = async (client: pg.Client) => (await client.query<{ t: string | null }>(`SELECT to_regclass('${SCHEMA}.taken_over')::text AS t`)).rows[0]?.t !== null;

/** Who wrote a document or takes the lock: this process, on this machine. */
export const whoAmI = () => ({ pid: process.pid, host: hostname(), command: process.argv.slice(1).map((a) => relative(process.cwd(), a) || a).join(' ') });

/** This checkout, as the source of files taken over. */
const sourceOf = (root: string) => `${hostname()}:${root}`;

export function pgStore(env: NodeJS.ProcessEnv, root: string): StateStore {
  const source = sourceOf(root);
  return {
    shared: true,
    where: (stage, kind) => `PostgreSQL ${SCHEMA}.records (stage ${stage}, kind ${kind})`,
    read: (stage, kind) =>
      withPg(env, async (client) => {
        if (await hasSchema(client)) {
          const row = await client.query<{ body: unknown }>(`SELECT body FROM ${SCHEMA}.records WHERE stage = $1 AND kind = $2`, [stage, kind]);
          if (row.rows[0]) return row.rows[0].body;
          const taken = await client.query(`SELECT 1 FROM ${SCHEMA}.taken_over WHERE source = $1 AND stage = $2 AND kind = $3`, [source, stage, kind]);
          if (taken.rowCount) return null;
        }
        // Not taken over yet (a dry run before the first pg run takes the lock): the file still counts.
        return readDocumentFile(documentFile(root, stage, kind));
      }),
    write: (stage, kind, body) =>
      withPg(env, async (client) => {
        await ensureSchema(client);
        const me = whoAmI();
        await client.query(
          `INSERT INTO ${SCHEMA}.records (stage, kind, body, written_at, written_by) VALUES ($1, $2, $3, now(), $4)
           ON CONFLICT (stage, kind) DO UPDATE SET body = EXCLUDED.body, written_at = EXCLUDED.written_at, written_by = EXCLUDED.written_by`,
          [stage, kind, JSON.stringify(body), `pid ${me.pid} on ${me.host}`],
        );
      }),
  };
}

export interface TakenOver {
  stage: StageName;
  kind: DocumentKind;
  file: string;
  /** Where the file went (it is kept, renamed, and no longer read). */
  movedTo: string;
  /** `database` when PostgreSQL already had this document from another checkout: its copy stays. */
  kept: 'file' | 'database';
}

/**
 * Takes the files of `stages` that earlier runs wrote under `root` into PostgreSQL, in one
 * transaction, each once: the takeover is recorded per checkout and document, and the file is
 * renamed to `<file>.taken-over`. A document the database already has keeps the database's copy.
 */
export async function takeOverFiles(env: NodeJS.ProcessEnv, root: string, stages: StageName[]): Promise<TakenOver[]> {
  const source = sourceOf(root);
  const candidates = stages.flatMap((stage) => DOCUMENT_KINDS.map((kind) => ({ stage, kind, file: documentFile(root, stage, kind) }))).filter((c) => existsSync(c.file));
  if (candidates.length === 0) return [];
  const taken = await withPg(env, async (client) => {
    await ensureSchema(client);
    await client.query('BEGIN');
    try {
      const done: TakenOver[] = [];
      for (const { stage, kind, file } of candidates) {
        const claimed = await client.query(`INSERT INTO ${SCHEMA}.taken_over (source, stage, kind, file, kept) VALUES ($1, $2, $3, $4, 'file') ON CONFLICT DO NOTHING`, [source, stage, kind, file]);
        if (!claimed.rowCount) continue; // taken over before: this file is not news
        const inserted = await client.query(
          `INSERT INTO ${SCHEMA}.records (stage, kind, body, written_by) VALUES ($1, $2, $3, $4) ON CONFLICT (stage, kind) DO NOTHING`,
          [stage, kind, JSON.stringify(readDocumentFile(file)), `taken over from ${source.replace(/:.*/, '')}:${file}`],
        );
        const kept = inserted.rowCount ? 'file' : 'database';
        if (kept === 'database') await client.query(`UPDATE ${SCHEMA}.taken_over SET kept = 'database' WHERE source = $1 AND stage = $2 AND kind = $3`, [source, stage, kind]);
        done.push({ stage, kind, file, movedTo: `${file}.taken-over`, kept });
      }
      await client.query('COMMIT');
      return done;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
  for (const t of taken) renameSync(t.file, t.movedTo);
  return taken;
}
