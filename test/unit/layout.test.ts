// The layout the code promises (README, docs/decisions/0001): one folder per layer, platforms
// behind one interface, and functions short enough to find from a step's title.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const LIB = join(ROOT, 'tasks', 'lib');
const LAYERS = ['model', 'check', 'synth', 'apply', 'render', 'configure', 'verify', 'promote'];
const MAX_FUNCTION_LINES = 80;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const rel = (file: string) => relative(ROOT, file).split(sep).join('/');
const outsidePlatform = sources(LIB).filter((f) => !rel(f).startsWith('tasks/lib/platform/'));

describe('the layout of tasks/lib', () => {
  it('has one folder per layer, each with an index', () => {
    const missing = LAYERS.filter((layer) => !statSync(join(LIB, layer), { throwIfNoEntry: false })?.isDirectory() || !statSync(join(LIB, layer, 'index.ts'), { throwIfNoEntry: false }));
    expect(missing).toEqual([]);
    const loose = readdirSync(LIB).filter((name) => name.endsWith('.ts'));
    expect(loose).toEqual([]);
  });

  it('lets no layer import a platform folder: they call the Platform interface', () => {
    const offenders = outsidePlatform.filter((file) => /from '[./]*platform\/(local|proxmox)[/']/.test(readFileSync(file, 'utf8'))).map(rel);
    expect(offenders).toEqual([]);
  });

  it('lets no layer compare a platform name', () => {
    const comparison = /\bplatform\s*[!=]==?\s*['"]|['"](local|proxmox)['"]\s*[!=]==?\s*[\w.?]*platform\b/;
    const offenders = outsidePlatform.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${rel(file)}:${i + 1}` }))
        .filter(({ line }) => comparison.test(line))
        .map(({ at }) => at),
    );
    expect(offenders).toEqual([]);
  });

  it(`has no function longer than ${MAX_FUNCTION_LINES} lines in tasks/`, () => {
    const long: string[] = [];
    for (const file of sources(join(ROOT, 'tasks'))) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
          const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (end - start + 1 > MAX_FUNCTION_LINES) long.push(`${rel(file)}:${start + 1} (${end - start + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });
});
