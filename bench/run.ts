// `npm run bench`: runs every bench/*.bench.ts in turn and prints its figures. Benchmarks are
// measurements, not tests: nothing here fails on a slow number.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const only = process.argv[2];
const files = readdirSync(import.meta.dirname).filter((f) => f.endsWith('.bench.ts') && (!only || f.includes(only))).sort();
for (const file of files) {
  console.log(`# ${file}`);
  const mod = (await import(pathToFileURL(join(import.meta.dirname, file)).href)) as { run?: (print: (l: string) => void) => Promise<void> };
  if (typeof mod.run !== 'function') {
    console.log(`  (no exported run(print) function; skipped)`);
    continue;
  }
  await mod.run((line) => console.log(`  ${line}`));
}
