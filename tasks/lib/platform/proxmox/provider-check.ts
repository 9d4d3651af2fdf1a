// Is bpg/proxmox where Terraform will look for it? Terraform downloads nothing unless
// HOMEPROD_TF_REGISTRY=direct, so the pinned release must be in the filesystem mirror, in
// either layout Terraform reads (`terraform providers mirror` writes the packed one).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROXMOX_PROVIDER, providerMirrorPaths } from '../../../../stacks/provider-pin';
import { HomeprodError } from '../../ui/errors';
import { cliConfigOptions, findTerraform } from '../../shared/terraform-source';
import type { DoctorContext } from './context';

const GO_ARCH: Partial<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' };

/** Terraform's name for this machine's platform, e.g. linux_amd64. */
export const osArch = () => `${process.platform}_${GO_ARCH[process.arch] ?? process.arch}`;

export async function providerCheck(ctx: DoctorContext): Promise<string[]> {
  const env = ctx.options.env;
  const problems: string[] = [];
  try {
    await findTerraform(env);
  } catch (error) {
    if (!(error instanceof HomeprodError)) throw error;
    problems.push(`${error.message}: ${error.hint}`);
  }
  const { pluginDir, allowDownload } = cliConfigOptions(env);
  if (allowDownload) return problems; // terraform init fetches it from the registry
  const { packed, unpacked } = providerMirrorPaths(osArch());
  const unpackedDir = join(pluginDir, unpacked);
  const hasBinary = existsSync(unpackedDir) && readdirSync(unpackedDir).some((f) => f.startsWith('terraform-provider-proxmox'));
  if (!existsSync(join(pluginDir, packed)) && !hasBinary) {
    problems.push(
      `bpg/proxmox ${PROXMOX_PROVIDER.version} is not in the provider mirror ${pluginDir} (neither ${packed} nor ${unpacked}/terraform-provider-proxmox*): ` +
        `on a machine with registry access run terraform providers mirror -platform=${osArch()} DIR in a directory whose main.tf requires bpg/proxmox ${PROXMOX_PROVIDER.version} ` +
        '(README: From rehearsal to your cluster), copy DIR\'s content there or set HOMEPROD_TF_PLUGIN_DIR=DIR; or set HOMEPROD_TF_REGISTRY=direct to let terraform download it',
    );
  }
  return problems;
}
