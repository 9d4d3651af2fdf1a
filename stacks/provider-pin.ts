// The one bpg/proxmox provider version homeprod is written against. The committed schema
// (stacks/schema/bpg-proxmox.schema.json) was transcribed from this release's source, the
// bindings in .gen/ are generated from that schema, and every Proxmox stack pins it exactly.

export const PROXMOX_PROVIDER = {
  /** Registry source address as written in `required_providers`. */
  source: 'bpg/proxmox',
  /** Exact version; a bare version is an `=` constraint to Terraform. */
  version: '0.78.2',
  /** Key of the provider in `terraform providers schema -json`. */
  fqpn: 'registry.terraform.io/bpg/proxmox',
  /** The Proxmox VE major version this release supports (its README: "compatible with Proxmox VE 8.x"). */
  proxmoxVeMajor: 8,
} as const;

/**
 * Where the provider sits in a filesystem mirror (`terraform providers mirror` writes the
 * packed form; the unpacked one is a directory holding the binary), for an os_arch like linux_amd64.
 */
export function providerMirrorPaths(osArch: string): { packed: string; unpacked: string } {
  const dir = PROXMOX_PROVIDER.fqpn;
  return {
    packed: `${dir}/terraform-provider-proxmox_${PROXMOX_PROVIDER.version}_${osArch}.zip`,
    unpacked: `${dir}/${PROXMOX_PROVIDER.version}/${osArch}`,
  };
}

export const PROXMOX_SCHEMA_FILE = 'stacks/schema/bpg-proxmox.schema.json';
export const PROXMOX_BINDINGS_DIR = '.gen/providers/proxmox';
