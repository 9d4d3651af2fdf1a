// The documents the pipeline keeps per stage, the interface of a store that keeps them, and
// where each lives as a file under a state root (the layout earlier runs wrote).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StageName } from '../model/types';
import { HomeprodError } from '../ui/errors';
import { tfStateDir } from './paths';

/**
 * The documents a stage has: its last configured run, its last verified run, its applied stacks,
 * and what each play last ran with on each host (configure/selection.ts).
 */
export const DOCUMENT_KINDS = ['run', 'verified', 'applied-stacks', 'plays'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export interface StateStore {
  /** Every checkout of the site sees the same documents (so they must carry all a run needs). */
  readonly shared: boolean;
  /** Where one document lives, for messages: a file, or a row in PostgreSQL. */
  where(stage: StageName, kind: DocumentKind): string;
  /** The document, or null when there is none. */
  read(stage: StageName, kind: DocumentKind): Promise<unknown | null>;
  write(stage: StageName, kind: DocumentKind, body: unknown): Promise<void>;
}

/** The store of each stage. */
export type Stores = (stage: StageName) => StateStore;

/** A document's file under a state root (today's layout, which the file store keeps). */
export function documentFile(root: string, stage: StageName, kind: DocumentKind): string {
  return kind === 'applied-stacks' ? join(tfStateDir(root), `applied-${stage}.json`) : join(root, 'runs', `${stage}-${kind}.json`);
}

export function readDocumentFile(file: string): unknown | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new HomeprodError(`${file}: not JSON (${(error as Error).message})`);
  }
}

