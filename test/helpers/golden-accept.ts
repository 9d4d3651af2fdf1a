// Promotes every reviewed test/golden/**/*.actual to its expected file.
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN_ROOT } from './golden';

let promoted = 0;
for (const entry of readdirSync(GOLDEN_ROOT, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.actual')) continue;
  const actual = join(entry.parentPath, entry.name);
  renameSync(actual, actual.slice(0, -'.actual'.length));
  console.log(`accepted ${actual.slice(GOLDEN_ROOT.length + 1, -'.actual'.length)}`);
  promoted++;
}
console.log(`${promoted} golden file(s) accepted`);
