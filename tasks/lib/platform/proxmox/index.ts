// The proxmox platform: the stage's VMs on a real Proxmox VE cluster (bpg/proxmox provider).
// Hosts are reached directly over ssh, and clients reach the passthrough through the router.
import type { Stage } from '../../model/types';
import { sshLink } from '../../shared/link';
import { EXIT, HomeprodError } from '../../ui/errors';
import type { Platform } from '../index';
import { probeProxmox } from './probe';

export const proxmoxPlatform: Platform = {
  name: 'proxmox',

  async preflight(stage) {
    await probeProxmox(stage);
    return `the ${stage.name} cluster at ${stage.proxmox.endpoint} answers`;
  },

  reach(host) {
    return {
      // The operator's own known_hosts must already hold the node's key: nothing is trusted on first use.
      link: sshLink(host.name, ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ServerAliveInterval=15', `root@${host.ipv4}`]),
      knownHosts: null,
    };
  },

  entrypoint: (_edge, passthroughIpv4) => ({ address: passthroughIpv4, httpPort: 80, httpsPort: 443 }),

  natEmulation: () => null,

  runsAcmeServer: () => false,

  acmeServer(stage: Stage) {
    return Promise.reject(new HomeprodError(`stages.${stage.name}.tls.acmeDirectory: the proxmox platform runs no ACME server; name the directory of yours (e.g. Let's Encrypt's)`, EXIT.precondition));
  },

  acmeRoot(stage: Stage) {
    return Promise.reject(new HomeprodError(`stages.${stage.name}: the proxmox platform runs no ACME server, so it has no root to trust`, EXIT.precondition));
  },
};
