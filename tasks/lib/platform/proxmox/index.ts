// The proxmox platform: the stage's VMs on a real Proxmox VE cluster (bpg/proxmox provider).
// Before Terraform runs, the doctor's checks must pass; hosts are reached directly over ssh
// with the host keys homeprod made for them, and clients reach the passthrough through the router.
import { PROXMOX_PROVIDER } from '../../../../stacks/provider-pin';
import type { Stage } from '../../model/types';
import { sshLink } from '../../shared/link';
import { EXIT, HomeprodError } from '../../ui/errors';
import type { Platform } from '../index';
import { doctorStage, problemsOf } from './doctor';
import { reachArgs } from './reach';

export const proxmoxPlatform: Platform = {
  name: 'proxmox',

  terraformProviders: [{ source: PROXMOX_PROVIDER.source, version: PROXMOX_PROVIDER.version, pinnedIn: 'stacks/provider-pin.ts' }],

  // ProxmoxVm; the stack's snippets and image are files the VM reads, replaced by content hash.
  machineResourceType: 'proxmox_virtual_environment_vm',

  async preflight(stage, { site, env, insecure, say }) {
    say(`Checking the ${stage.name} cluster at ${stage.proxmox.endpoint}`);
    const doctor = await doctorStage(site, stage, { env, insecure });
    const problems = problemsOf(doctor);
    const hint = 'nothing was applied; npx tsx tasks/doctor.ts shows every check';
    if (problems.length === 1) throw new HomeprodError(problems[0]!, EXIT.precondition, hint);
    if (problems.length > 1) throw new HomeprodError(`stages.${stage.name}: the Proxmox cluster is not ready (${problems.length} problems):`, EXIT.precondition, hint, problems);
    return `the ${stage.name} cluster at ${stage.proxmox.endpoint} is ready (Proxmox VE ${doctor.version}, node ${stage.proxmox.nodes[0]})`;
  },

  terraformEnv(stage, { insecure }) {
    return {
      PROXMOX_VE_ENDPOINT: stage.proxmox.endpoint,
      // Go (the provider) trusts this file's CA besides the system's certificate directory.
      ...(stage.proxmox.caCert && !insecure ? { SSL_CERT_FILE: stage.proxmox.caCert } : {}),
      ...(insecure ? { PROXMOX_VE_INSECURE: 'true' } : {}),
    };
  },

  reach(host, stage, env, peers) {
    const { args, knownHosts } = reachArgs(host, stage, env, peers);
    return { link: sshLink(host.name, args), knownHosts };
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
