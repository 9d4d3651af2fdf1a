// Which terraform runs, with which CLI config and environment: nothing is ever downloaded unless
// the operator allows it, and inherited TF_* variables never change what terraform does.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../shared/files';
import { type CliConfigOptions, cliConfigOptions } from '../shared/terraform-source';
import { tfStateDir } from '../shared/paths';
import type { TerraformConfig } from './terraform';

export { cliConfigOptions, type CliConfigOptions, findTerraform } from '../shared/terraform-source';

export function cliConfigText(options: CliConfigOptions): string {
  // Without `direct {}` terraform cannot reach any registry: the local platform needs only
  // built-in providers, and the proxmox provider must be placed in the mirror on purpose.
  const method = options.allowDownload ? '  direct {}\n' : `  filesystem_mirror {\n    path = ${JSON.stringify(options.pluginDir)}\n  }\n`;
  return `# Written by homeprod (tasks/lib/apply/terraform.ts); every terraform call uses this file.\ndisable_checkpoint = true\n\nprovider_installation {\n${method}}\n`;
}

/** Writes our CLI config (0600, atomically) under `<stateDir>/terraform/` and returns its path. */
export function writeCliConfig(stateDir: string, options: CliConfigOptions = cliConfigOptions()): string {
  const dir = tfStateDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(options.pluginDir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'cli.tfrc');
  writeFileAtomic(file, cliConfigText(options), 0o600);
  return file;
}

// Inherited TF_* variables would change what terraform does behind our back (another CLI
// config, TF_VAR_ inputs, workspaces); only logging and the plugin cache pass through.
const PASSED_TF_VARIABLES = new Set(['TF_LOG', 'TF_LOG_PATH', 'TF_LOG_CORE', 'TF_LOG_PROVIDER', 'TF_PLUGIN_CACHE_DIR']);

export function terraformEnv(config: Pick<TerraformConfig, 'cliConfigFile' | 'env' | 'baseEnv'>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.baseEnv ?? process.env)) {
    if (value === undefined) continue;
    if ((key.startsWith('TF_') || key.startsWith('TOFU_')) && !PASSED_TF_VARIABLES.has(key)) continue;
    if (key === 'CHECKPOINT_DISABLE') continue;
    env[key] = value;
  }
  return {
    ...env,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_CLI_CONFIG_FILE: config.cliConfigFile,
    ...config.env,
  };
}
