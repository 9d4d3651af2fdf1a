// Which terraform runs, with which CLI config and environment: nothing is ever downloaded unless
// the operator allows it, and inherited TF_* variables never change what terraform does.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { which } from 'zx';
import { providerMirrorDir } from '../../../stacks/terraform-offline';
import { writeFileAtomic } from '../shared/files';
import { tfStateDir } from '../shared/paths';
import { EXIT, HomeprodError } from '../ui/errors';
import type { TerraformConfig } from './terraform';

/** `HOMEPROD_TF` if set, else `terraform`, else `tofu` from PATH. */
export async function findTerraform(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const wanted = env.HOMEPROD_TF?.trim();
  const candidates = wanted ? [wanted] : ['terraform', 'tofu'];
  for (const name of candidates) {
    const found = await which(name, { nothrow: true, path: env.PATH });
    if (found) return found;
  }
  throw new HomeprodError(
    wanted ? `HOMEPROD_TF is "${wanted}", which is not an executable on PATH` : 'neither terraform nor tofu is on PATH',
    EXIT.precondition,
    'install Terraform >= 1.6 or OpenTofu (https://developer.hashicorp.com/terraform/install), or set HOMEPROD_TF to its path',
  );
}

export interface CliConfigOptions {
  /** Directory of the provider filesystem mirror; the only install source unless `allowDownload`. */
  pluginDir: string;
  /** Let terraform fetch providers from their registry (HOMEPROD_TF_REGISTRY=direct). */
  allowDownload: boolean;
}

/** The one provider mirror (`.cache/terraform/providers`, shared with the stack tests) unless HOMEPROD_TF_PLUGIN_DIR. */
export function cliConfigOptions(env: NodeJS.ProcessEnv = process.env): CliConfigOptions {
  return {
    pluginDir: resolve(env.HOMEPROD_TF_PLUGIN_DIR ?? providerMirrorDir()),
    allowDownload: env.HOMEPROD_TF_REGISTRY === 'direct',
  };
}

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
