// The bpg/proxmox provider of a stack. Endpoint, trust and API token reach the provider from
// the environment at run time (PROXMOX_VE_ENDPOINT, SSL_CERT_FILE, PROXMOX_VE_API_TOKEN: the
// proxmox platform's terraformEnv), so nothing secret is in the synthesized JSON, and
// certificate verification is never switched off in it: only an --insecure run does that.
import type { Construct } from 'constructs';
import { ProxmoxProvider } from '../.gen/providers/proxmox/provider';
import type { Stage } from '../tasks/lib/model/types';

/** Adds the provider; returns the node VMs of this stage are placed on. */
export function proxmoxProvider(scope: Construct, stage: Stage): string {
  new ProxmoxProvider(scope, 'proxmox', {
    // The provider logs in to the node with the operator's agent keys, as doctor checks.
    ssh: [
      {
        agent: true,
        username: stage.proxmox.sshUser,
        ...(stage.proxmox.sshNodes.length ? { node: stage.proxmox.sshNodes.map((n) => ({ name: n.name, address: n.address, port: n.port })) } : {}),
      },
    ],
  });
  const node = stage.proxmox.nodes[0];
  if (!node) throw new Error(`stages.${stage.name}.proxmox.nodes: needs at least one node`);
  return node;
}
