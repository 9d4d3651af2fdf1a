// Which terraform runs and where it may take providers from: the apply layer runs it this way,
// and the proxmox platform's doctor checks the provider is there before anything is planned.
import { resolve } from 'node:path';
import { which } from 'zx';
import { providerMirrorDir } from '../../../stacks/terraform-offline';
import { EXIT, HomeprodError } from '../ui/errors';

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
