// Golden files: test/golden/<case>/expected/<file>. A mismatch writes <file>.actual beside
// the expected file and fails; `npm run golden:accept` promotes every *.actual after review.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const GOLDEN_ROOT = join(import.meta.dirname, '..', 'golden');

/** Compares `actual` with test/golden/<caseName>/expected/<file>; returns null or a message. */
export function compareGolden(caseName: string, file: string, actual: string): string | null {
  const expectedPath = join(GOLDEN_ROOT, caseName, 'expected', file);
  const actualPath = `${expectedPath}.actual`;
  const expected = existsSync(expectedPath) ? readFileSync(expectedPath, 'utf8') : null;
  if (expected === actual) {
    rmSync(actualPath, { force: true });
    return null;
  }
  mkdirSync(dirname(actualPath), { recursive: true });
  writeFileSync(actualPath, actual);
  return expected === null
    ? `no golden file ${expectedPath}; wrote ${actualPath} (review it, then npm run golden:accept)`
    : `${expectedPath} differs; wrote ${actualPath} (diff them, then npm run golden:accept)`;
}
