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
} as const;

export const PROXMOX_SCHEMA_FILE = 'stacks/schema/bpg-proxmox.schema.json';
export const PROXMOX_BINDINGS_DIR = '.gen/providers/proxmox';
