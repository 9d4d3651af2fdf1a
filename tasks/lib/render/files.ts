// Writes a rendered tree so that readers see the old tree or the new one, never a mix: the
// files go into a sibling temp directory that then replaces the output directory.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeTree(outDir: string, files: ReadonlyMap<string, string>): void {
  const parent = dirname(outDir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(outDir)}.tmp-${process.pid}`);
  const old = join(parent, `.${basename(outDir)}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    const dirs = new Set<string>();
    for (const file of files.keys()) dirs.add(dirname(join(tmp, file)));
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    for (const [file, text] of files) writeFileSync(join(tmp, file), text, { mode: 0o644 });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  const hadOld = existsSync(outDir);
  if (hadOld) renameSync(outDir, old);
  try {
    renameSync(tmp, outDir);
  } catch (error) {
    if (hadOld) renameSync(old, outDir);
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
}
