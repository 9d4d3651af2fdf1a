// TLS mode acme seen from the configure layer: where the stage's platform runs the ACME server
// itself (the local platform's pebble, when the site names no acmeDirectory), configure starts
// it and hands the certificates role what it needs to use it; verify then trusts its root.
import type { HostOutput, Site, StageName } from '../model/types';
import { platformOf } from '../platform';
import { EXIT, HomeprodError } from '../ui/errors';

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

/** The stage uses acme against an ACME server its platform runs (started by configure). */
export const runsAcmeServer = (site: Site, stage: StageName): boolean => platformOf(site.stages[stage]).runsAcmeServer(site.stages[stage]);

/** homeprod keeps the CA that verify must trust for this stage (.state/tls/<stage>-ca.pem). */
export const managesStageCa = (site: Site, stage: StageName): boolean => site.stages[stage].tls.mode === 'local-ca' || runsAcmeServer(site, stage);

/** The passthrough: what exists (outputs) first, else the model's host with a static address. */
export function passthroughOf(site: Site, outputs: HostOutput[] = []): { ipv4: string; stage: StageName } {
  const applied = outputs.find((h) => h.roles.includes('passthrough'));
  if (applied) return { ipv4: applied.ipv4, stage: applied.stage };
  const host = site.hosts.find((h) => h.roles.includes('passthrough'));
  if (!host?.ipv4) throw new HomeprodError('tls mode acme: the site has no passthrough host with a static address for HTTP-01 validation to reach', EXIT.failed);
  return { ipv4: host.ipv4, stage: host.stage };
}

/** The passthrough's address, where HTTP-01 validation connects. */
export const passthroughAddress = (site: Site, outputs: HostOutput[] = []): string => passthroughOf(site, outputs).ipv4;

/**
 * Starts (or keeps) the stage's ACME server and returns the role's variables. The HTTP-01 route
 * is ready when the passthrough's port 80 answers now, or when the passthrough is a host of this
 * stage: site.yml configures it before the certificates are issued, in the same run.
 */
export async function acmeVars(site: Site, stage: StageName, outputs: HostOutput[] = [], env: NodeJS.ProcessEnv = process.env): Promise<AcmeVars> {
  const passthrough = passthroughOf(site, outputs);
  const server = await platformOf(site.stages[stage]).acmeServer(site.stages[stage], passthrough.ipv4, env);
  return {
    certificates_acme_directory: server.directory,
    certificates_acme_ca_cert: server.listenerCa,
    certificates_acme_root: server.root,
    certificates_acme_route_ready: server.routeReady || passthrough.stage === stage,
  };
}

/** The root to trust in verify: the one the stage's ACME server issues under now. */
export const acmeServerRoot = (site: Site, stage: StageName, env: NodeJS.ProcessEnv = process.env) => platformOf(site.stages[stage]).acmeRoot(site.stages[stage], env);
