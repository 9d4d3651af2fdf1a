// What shapes a stage, hashed file by file: the normalized site model, the stacks, the
// templates and the Ansible roles. Equal hashes mean equal content; the files tell what differs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Site } from '../model/types';
import { filesUnder } from '../shared/files';
import { PROJECT_ROOT } from '../shared/paths';

/** Project directories whose files shape a stage. */
export const SHAPING_DIRS = ['stacks', 'templates', 'ansible'];

export interface ContentSnapshot {
  /** One hash over everything below. */
  hash: string;
  /** Per input ("site" or a project-relative path) → sha256. */
  files: Record<string, string>;
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A golden test's `.actual` output is not content. */
const walk = (dir: string) => filesUnder(dir).filter((file) => !file.endsWith('.actual'));

export function contentSnapshot(site: Site, root: string = PROJECT_ROOT): ContentSnapshot {
  const files: Record<string, string> = { site: sha(JSON.stringify({ ...site, file: undefined })) };
  for (const dir of SHAPING_DIRS) for (const file of walk(join(root, dir))) files[relative(root, file)] = sha(readFileSync(file));
  const keys = Object.keys(files).sort();
  const hash = sha(keys.map((k) => `${k}\0${files[k]}`).join('\n'));
  return { hash, files: Object.fromEntries(keys.map((k) => [k, files[k]!])) };
}

/** Inputs that differ between two snapshots: added, removed or changed. */
export function changedInputs(before: Pick<ContentSnapshot, 'files'> | null, after: Pick<ContentSnapshot, 'files'>): string[] {
  if (!before) return Object.keys(after.files);
  const keys = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  return [...keys].filter((k) => before.files[k] !== after.files[k]).sort();
}
