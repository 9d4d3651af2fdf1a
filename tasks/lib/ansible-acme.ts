// TLS mode acme seen from the configure layer: on the local platform (no acmeDirectory of the
// user's own) homeprod runs the stage's ACME server itself (pebble, tasks/lib/local/acme.ts)
// and hands the certificates role what it needs to use it; verify then trusts pebble's root.
import { EXIT, HomeprodError } from './errors';
import { acmeRoot, ensureAcmeServer, reachableFromRouter } from './local/acme';
import { localConfig } from './local/config';
import type { HostOutput, Site, StageName } from './model/types';

/** Role variables for the acme branch of the certificates role (names as in its defaults). */
export interface AcmeVars {
  certificates_acme_directory: string;
  /** PEM signing the ACME server's HTTPS certificate: certbot's REQUESTS_CA_BUNDLE. */
  certificates_acme_ca_cert: string;
  /** PEM of the root the server issues under now: certificates not chaining to it are re-issued. */
  certificates_acme_root: string;
  /** false while nothing answers on the passthrough's port 80: placeholders until it does. */
  certificates_acme_route_ready: boolean;
}

/** The stage uses acme against the local platform's own pebble (started by configure). */
export const usesLocalAcme = (site: Site, stage: StageName): boolean =>
  site.stages[stage].tls.mode === 'acme' && site.stages[stage].platform === 'local' && !site.stages[stage].tls.acmeDirectory;

/** homeprod keeps the CA that verify must trust for this stage (.state/tls/<stage>-ca.pem). */
export const managesStageCa = (site: Site, stage: StageName): boolean => site.stages[stage].tls.mode === 'local-ca' || usesLocalAcme(site, stage);

/** The passthrough's address: what exists (outputs) first, else the model's static address. */
export function passthroughAddress(site: Site, outputs: HostOutput[] = []): string {
  const applied = outputs.find((h) => h.roles.includes('passthrough'));
  if (applied) return applied.ipv4;
  const host = site.hosts.find((h) => h.roles.includes('passthrough'));
  if (!host?.ipv4) throw new HomeprodError('tls mode acme: the site has no passthrough host with a static address for HTTP-01 validation to reach', EXIT.failed);
  return host.ipv4;
}

/**
 * Starts (or keeps) the stage's pebble and returns the role's variables. The route check is
 * what pebble itself will do: connect from the router to the passthrough's port 80.
 */
export async function localAcmeVars(site: Site, stage: StageName, outputs: HostOutput[] = [], env: NodeJS.ProcessEnv = process.env): Promise<AcmeVars> {
  const cfg = localConfig(env);
  const gateway = site.stages[stage].network.gateway;
  const passthrough = passthroughAddress(site, outputs);
  const server = await ensureAcmeServer(cfg, { stage, gateway, passthrough });
  return {
    certificates_acme_directory: server.directory,
    certificates_acme_ca_cert: server.listenerCa,
    certificates_acme_root: await acmeRoot(cfg, { stage, gateway }),
    certificates_acme_route_ready: await reachableFromRouter(cfg, passthrough, 80),
  };
}

/** The root to trust in verify: pebble's current one. */
export const localAcmeRoot = (site: Site, stage: StageName, env: NodeJS.ProcessEnv = process.env) =>
  acmeRoot(localConfig(env), { stage, gateway: site.stages[stage].network.gateway });
