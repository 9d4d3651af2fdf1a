// Where a stage's machines run, behind one interface: how to reach a host, where clients reach
// the site, which ACME server a stage uses, and what the platform needs before Terraform runs.
// The layers call `platformOf(stage)`; only this folder knows the platforms apart.
import type { Platform as PlatformName, Site, Stage } from '../model/types';
import type { ControlLink } from '../shared/link';
import { localPlatform } from './local';
import { proxmoxPlatform } from './proxmox';

/** Where clients reach the site: the router's NAT in front of the passthrough, as seen from here. */
export interface Entrypoint {
  /** An IP address (a name would be sent as SNI). */
  address: string;
  httpPort: number;
  httpsPort: number;
  /** The client address the backends must see through the PROXY protocol, when the platform knows it. */
  client?: string;
}

/** A host as the platform reaches it: a link that runs scripts there, and the known_hosts its own ssh trusts. */
export interface HostLink {
  link: ControlLink;
  /** known_hosts for ssh from that host to the stage's others (shipped with the bundle); null: none to ship. */
  knownHosts: string | null;
}

/** An ACME server the platform runs for a stage. */
export interface AcmeServer {
  /** The directory URL certbot talks to. */
  directory: string;
  /** PEM of the CA that signed the server's own HTTPS certificate. */
  listenerCa: string;
  /** PEM of the root it issues under now. */
  root: string;
  /** Whether HTTP-01 validation reaches the passthrough's port 80 now (false before it is up). */
  routeReady: boolean;
}

export interface PreflightOptions {
  dryRun: boolean;
  say: (line: string) => void;
  env: NodeJS.ProcessEnv;
  site: Site;
  /** The --insecure flag: the platform's API certificate is not verified. */
  insecure: boolean;
}

export interface Platform {
  readonly name: PlatformName;
  /** The Terraform providers its stacks use (besides the built-in ones), as pinned. */
  readonly terraformProviders: ReadonlyArray<{ source: string; version: string; pinnedIn: string }>;
  /** The Terraform resource type of a host's machine in its VM stack: what its plan does to it is what the host undergoes. */
  readonly machineResourceType: string;
  /**
   * Checks (and where it can, provides) what the platform needs before Terraform runs, with the
   * fix in the error; returns a short sentence for the step title. A dry run changes nothing.
   */
  preflight(stage: Stage, options: PreflightOptions): Promise<string>;
  /** Environment terraform runs the stage's stacks with (endpoint, trust), never a secret of its own. */
  terraformEnv(stage: Stage, options: { insecure: boolean }): Record<string, string>;
  /**
   * The link to a host of the stage (for configure: its control node); `peers` are the stage's
   * hosts as applied (Terraform outputs), whose host keys the shipped known_hosts holds.
   */
  reach(host: { name: string; ipv4: string }, stage: Stage, env: NodeJS.ProcessEnv, peers?: ReadonlyArray<{ name: string; ipv4: string }>): HostLink;
  /** Where clients reach the site's passthrough (at `passthroughIpv4`, a host of stage `edge`). */
  entrypoint(edge: Stage, passthroughIpv4: string): Entrypoint;
  /** How the platform stands in for the router's NAT, for people; null behind a real router. */
  natEmulation(edge: Stage): string | null;
  /** Whether homeprod runs the stage's ACME server itself (tls mode acme without an acmeDirectory). */
  runsAcmeServer(stage: Stage): boolean;
  /** Starts (or keeps) that server; HTTP-01 for every name goes to the passthrough at `passthrough`. */
  acmeServer(stage: Stage, passthrough: string, env: NodeJS.ProcessEnv): Promise<AcmeServer>;
  /** The root the stage's ACME server issues under now (verify trusts it). */
  acmeRoot(stage: Stage, env: NodeJS.ProcessEnv): Promise<string>;
}

const PLATFORMS: Record<PlatformName, Platform> = { local: localPlatform, proxmox: proxmoxPlatform };

/** Every platform, e.g. to list what each one needs. */
export const allPlatforms = (): Platform[] => Object.values(PLATFORMS);

export function platformOf(stage: Pick<Stage, 'platform'>): Platform {
  return PLATFORMS[stage.platform];
}
