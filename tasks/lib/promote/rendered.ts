// The rendered config a promotion would give each prod host, beside what that host was last
// configured with (`up` leaves each stage's last render in <state>/rendered/<stage>): which
// hosts' files change, and on request one host's unified diff (`diff -ruN`).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { $ } from 'zx';
import type { HostOutput, Site, StageName } from '../model/types';
import { RENDER_MARKER, renderFiles } from '../render';
import { filesUnder } from '../shared/files';
import { EXIT, HomeprodError } from '../ui/errors';

/** One host's part of a render (or the inventory), relative path → content. */
type Part = Map<string, string>;

export interface RenderedChange {
  /** A host's name, or "inventory". */
  part: string;
  /** Its files that are new, gone or different, relative to the part. */
  files: string[];
}

export interface RenderedComparison {
  /** A last render existed to compare with. */
  hadLast: boolean;
  changes: RenderedChange[];
  before: Map<string, Part>;
  after: Map<string, Part>;
}

/** hosts/<host>/<file> → [host, file]; inventory/<file> → ["inventory", file]. */
function partOf(path: string): [string, string] {
  const [top, ...rest] = path.split('/');
  if (top === 'hosts' && rest.length > 1) return [rest[0]!, rest.slice(1).join('/')];
  return [top!, rest.join('/') || top!];
}

function byPart(files: Iterable<[string, string]>): Map<string, Part> {
  const parts = new Map<string, Part>();
  for (const [path, text] of files) {
    if (path === RENDER_MARKER) continue;
    const [part, file] = partOf(path);
    if (!parts.has(part)) parts.set(part, new Map());
    parts.get(part)!.set(file, text);
  }
  return parts;
}

const readTree = (dir: string): Array<[string, string]> => filesUnder(dir).map((file) => [relative(dir, file), readFileSync(file, 'utf8')]);

export function compareRendered(site: Site, stage: StageName, outputs: readonly HostOutput[], lastDir: string): RenderedComparison {
  const before = byPart(readTree(lastDir));
  const after = byPart(renderFiles(site, stage, outputs));
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes = names.flatMap((part) => {
    const [a, b] = [before.get(part) ?? new Map<string, string>(), after.get(part) ?? new Map<string, string>()];
    const files = [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f)).sort();
    return files.length ? [{ part, files }] : [];
  });
  return { hadLast: existsSync(lastDir), changes, before, after };
}

function writePart(dir: string, part: Part | undefined): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of part ?? []) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
}

/** `diff -ruN` of one part, its paths a/<part>/… (last configured) and b/<part>/… (after the promotion). */
export async function partDiff(comparison: RenderedComparison, part: string): Promise<string[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'homeprod-promote-diff-'));
  try {
    writePart(join(tmp, 'a', part), comparison.before.get(part));
    writePart(join(tmp, 'b', part), comparison.after.get(part));
    const result = await $({ cwd: tmp, nothrow: true, quiet: true })`diff -ruN ${`a/${part}`} ${`b/${part}`}`;
    if (result.exitCode !== 0 && result.exitCode !== 1) throw new HomeprodError(`diff failed: ${result.stderr.trim()}`, EXIT.precondition);
    // The files' times are the temp copies', not the configs': only the paths are worth reading.
    return result.stdout.replace(/\n$/, '').split('\n').map((line) => line.replace(/^(---|\+\+\+) (\S+)\t.*$/, '$1 $2'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
