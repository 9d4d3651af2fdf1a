// The local platform: every VM of a stage is a systemd-nspawn machine on this machine, reached
// through the router namespace (never by a route from the root namespace), the router's NAT is
// a loopback forward, and a stage on acme without a directory of its own gets pebble.
import type { Stage } from '../../model/types';
import { sshLink } from '../../shared/link';
import type { Platform } from '../index';
import { acmeRoot, ensureAcmeServer, reachableFromRouter } from './acme';
import { localConfig, paths } from './config';
import { preflight } from './preflight';
import { sshArgs } from './ssh';

export const localPlatform: Platform = {
  name: 'local',

  // Its stacks use only Terraform's built-in terraform_data.
  terraformProviders: [],

  // LocalVm: one terraform_data per machine (the VM stack holds nothing else).
  machineResourceType: 'terraform_data',

  async preflight(stage, { dryRun, say }) {
    // A dry run only plans: it neither installs packages nor raises kernel limits.
    if (!dryRun) await preflight({ say });
    return `${stage.name} runs on this machine (local platform)`;
  },

  terraformEnv: () => ({}),

  reach(host, _stage, env) {
    const cfg = localConfig(env);
    return { link: sshLink(host.name, sshArgs(host.name, cfg)), knownHosts: paths(cfg).knownHosts };
  },

  // The emulated NAT forwards a loopback port and connects from the router, whose address in the
  // passthrough's subnet is the gateway: that is the client the backends see.
  entrypoint: (edge) => ({ address: edge.forward.address, httpPort: edge.forward.httpPort, httpsPort: edge.forward.httpsPort, client: edge.network.gateway }),

  natEmulation: (edge) => `local platform: ${edge.forward.address}:${edge.forward.httpPort} and :${edge.forward.httpsPort}`,

  runsAcmeServer: (stage) => stage.tls.mode === 'acme' && !stage.tls.acmeDirectory,

  async acmeServer(stage: Stage, passthrough, env) {
    const cfg = localConfig(env);
    const spec = { stage: stage.name, gateway: stage.network.gateway };
    const server = await ensureAcmeServer(cfg, { ...spec, passthrough });
    return {
      directory: server.directory,
      listenerCa: server.listenerCa,
      root: await acmeRoot(cfg, spec),
      // What pebble itself will do: connect from the router to the passthrough's port 80.
      routeReady: await reachableFromRouter(cfg, passthrough, 80),
    };
  },

  acmeRoot: (stage, env) => acmeRoot(localConfig(env), { stage: stage.name, gateway: stage.network.gateway }),
};
