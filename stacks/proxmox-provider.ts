// The bpg/proxmox provider of a stack. Endpoint and API token are read by the provider from
// PROXMOX_VE_ENDPOINT / PROXMOX_VE_API_TOKEN at run time (proxmoxEnv() gives the endpoint),
// so nothing secret, and nothing that differs per operator, is in the synthesized JSON.
import type { Construct } from 'constructs';
import { ProxmoxProvider } from '../.gen/providers/proxmox/provider';
import type { Stage } from '../tasks/lib/model/types';

/** Adds the provider; returns the node VMs of this stage are placed on. */
export function proxmoxProvider(scope: Construct, stage: Stage): string {
  new ProxmoxProvider(scope, 'proxmox', {
    insecure: stage.proxmox.insecure,
    ssh: [{ agent: true, username: stage.proxmox.sshUser }],
  });
  const node = stage.proxmox.nodes[0];
  if (!node) throw new Error(`stages.${stage.name}.proxmox.nodes: needs at least one node`);
  return node;
}

/** Environment the terraform runner adds for Proxmox stacks (the token comes from the operator's env). */
export function proxmoxEnv(stage: Stage): Record<string, string> {
  return { PROXMOX_VE_ENDPOINT: stage.proxmox.endpoint };
}
