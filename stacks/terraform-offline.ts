// Environment for running the real terraform binary with no registry and no network: a CLI
// config file of our own (the inherited TF_CLI_CONFIG_FILE may point at a missing file, which
// terraform reports as an error on every call) and the update checkpoint disabled.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');

/** Writes (once) an empty CLI config under .cache/ and returns the env terraform should run with. */
export function offlineTerraformEnv(root = PROJECT_ROOT): Record<string, string> {
  const dir = join(root, '.cache', 'terraform');
  const file = join(dir, 'cli.tfrc');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, '# homeprod: no provider installation sources beyond the defaults; nothing else.\n');
  }
  return { TF_CLI_CONFIG_FILE: file, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
}

/** Applies offlineTerraformEnv to this process, for libraries that spawn terraform themselves. */
export function useOfflineTerraform(root = PROJECT_ROOT): void {
  Object.assign(process.env, offlineTerraformEnv(root));
}
