// Where the pipeline keeps what it must remember between runs, per stage: the run records
// (what the stage was last configured with, what last verified) and the record of applied
// stacks. A stage whose Terraform state is in PostgreSQL keeps these in the same database, so
// every checkout and CI runner sees them; a stage with local state keeps them in files under
// this checkout's state root, as before. The run lock follows the same rule (run-lock.ts).
// The store only moves JSON documents; the promote and apply layers own their shape.
import type { Site } from '../model/types';
import { documentFile, readDocumentFile, type StateStore, type Stores } from './documents';
import { writeFileAtomic } from './files';
import { stateRoot } from './paths';
import { pgStore } from './pg-store';

export { DOCUMENT_KINDS, documentFile, type DocumentKind, type StateStore, type Stores } from './documents';

/** Documents as files under `root`, written atomically, 0600. */
export function fileStore(root: string): StateStore {
  return {
    shared: false,
    where: (stage, kind) => documentFile(root, stage, kind),
    read: async (stage, kind) => readDocumentFile(documentFile(root, stage, kind)),
    write: async (stage, kind, body) => writeFileAtomic(documentFile(root, stage, kind), `${JSON.stringify(body, null, 2)}\n`, 0o600),
  };
}

export interface StoreOptions {
  env?: NodeJS.ProcessEnv;
  /** The state root of file documents (and of files a PostgreSQL store takes over); default stateRoot(env). */
  root?: string;
}

/** Each stage's store, by its state backend. Opening costs nothing: PostgreSQL is reached on first use. */
export function storesFor(site: Pick<Site, 'stages'>, options: StoreOptions = {}): Stores {
  const env = options.env ?? process.env;
  const root = options.root ?? stateRoot(env);
  const files = fileStore(root);
  const pg = pgStore(env, root);
  return (stage) => (site.stages[stage].state.backend === 'pg' ? pg : files);
}

/** Whether any stage of the site keeps its state (and so its records and the run lock) in PostgreSQL. */
export const usesPostgres = (site: Pick<Site, 'stages'>): boolean => Object.values(site.stages).some((s) => s.state.backend === 'pg');
