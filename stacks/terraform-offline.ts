// Environment for running the real terraform binary with no registry and no network: a CLI
// config file of our own (the inherited TF_CLI_CONFIG_FILE may point at a missing file, which
// terraform reports as an error on every call) whose only provider source is a local mirror
// directory, so `terraform init` never reaches out, and the update checkpoint disabled.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');

/** Where provider packages may be placed for offline installs (terraform's unpacked mirror layout). */
export function providerMirrorDir(root = PROJECT_ROOT): string {
  return join(root, '.cache', 'terraform', 'providers');
}

/** Writes the CLI config under .cache/ (when missing or stale) and returns the env terraform should run with. */
export function offlineTerraformEnv(root = PROJECT_ROOT): Record<string, string> {
  const mirror = providerMirrorDir(root);
  const file = join(root, '.cache', 'terraform', 'cli.tfrc');
  const text =
    '# homeprod: providers come only from the local mirror; terraform never contacts a registry.\n' +
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["*/*/*"]\n  }\n}\n`;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    mkdirSync(mirror, { recursive: true });
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
  return { TF_CLI_CONFIG_FILE: file, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
}

/** Applies offlineTerraformEnv to this process, for libraries that spawn terraform themselves. */
export function useOfflineTerraform(root = PROJECT_ROOT): void {
  Object.assign(process.env, offlineTerraformEnv(root));
}
