// What the doctor's checks of one stage share: the site, the stage, the environment, the API
// once its connection check passed (the others then ask it), and the words for a problem.
import { readFileSync } from 'node:fs';
import type { Site, Stage } from '../../model/types';
import { ApiError, type ProxmoxApi } from './api';

export const TOKEN_ENV = 'PROXMOX_VE_API_TOKEN';
const TOKEN_SHAPE = /^[^@\s]+@[^!\s]+![^=\s]+=\S+$/;

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  /** The --insecure flag: the API certificate is not verified. */
  insecure: boolean;
}

export class DoctorContext {
  /** Set by the API check once the API answered with an accepted token. */
  api: ProxmoxApi | null = null;
  version = '';
  /** Set by the node check: the API answered and the stage's node is online. */
  ready = false;

  constructor(
    readonly site: Site,
    readonly stage: Stage,
    readonly options: DoctorOptions,
  ) {}

  /** `stages.<name>`: where a problem's field lives. */
  get where(): string {
    return `stages.${this.stage.name}`;
  }

  get endpoint(): string {
    return this.stage.proxmox.endpoint;
  }

  /** The node the stage's VMs are placed on. */
  get node(): string {
    return this.stage.proxmox.nodes[0]!;
  }

  /** The token from the environment when it has the form USER@REALM!TOKENID=SECRET. */
  get token(): string | null {
    const token = this.options.env[TOKEN_ENV]?.trim();
    return token && TOKEN_SHAPE.test(token) ? token : null;
  }

  /** `USER@REALM!TOKENID`: the token's name, safe to print (the secret follows the `=`). */
  get tokenId(): string {
    return this.token?.split('=')[0] ?? '(no token)';
  }

  /** `USER@REALM`, for pveum commands. */
  get tokenUser(): string {
    return this.tokenId.split('!')[0]!;
  }

  /** PEM of the site's caCert, or null (unset or unreadable: the trust check says which). */
  caPem(): string | null {
    const file = this.stage.proxmox.caCert;
    if (!file) return null;
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  }

  /** The API's answer, or null when it failed (a check that needs it says why). */
  async getOrNull<T>(path: string): Promise<T | null> {
    try {
      return await this.api!.get<T>(path);
    } catch (error) {
      if (error instanceof ApiError) return null;
      throw error;
    }
  }

  /** The API's answer, or null after a 403 (the privileges check names what to grant). */
  async getOrForbidden<T>(path: string, query?: Record<string, string>): Promise<T | null> {
    try {
      return await this.api!.get<T>(path, query);
    } catch (error) {
      if (error instanceof ApiError && error.failure.kind === 'http' && error.failure.status === 403) return null;
      throw error;
    }
  }
}

/** The one line for an API call that failed: what happened and what to do. */
export function apiProblem(ctx: DoctorContext, error: unknown): string {
  if (!(error instanceof ApiError)) throw error;
  const field = `${ctx.where}.proxmox.endpoint`;
  const failure = error.failure;
  switch (failure.kind) {
    case 'unreachable':
      return `${field}: ${ctx.endpoint} does not answer (${failure.detail}): check the address and port (the API listens on 8006), the network path to it, and that pveproxy runs on the node`;
    case 'certificate':
      return `${field}: the certificate of ${ctx.endpoint} does not verify (${failure.detail}): set ${ctx.where}.proxmox.caCert to a copy of the node's /etc/pve/pve-root-ca.pem (or run with --insecure)`;
    case 'http':
      if (failure.status === 401) {
        return `${TOKEN_ENV}: ${ctx.endpoint} refused the token ${ctx.tokenId} (401 ${failure.reason}): check its id and secret (pveum user token list ${ctx.tokenUser} on the node)`;
      }
      return `${field}: GET /api2/json${error.path} answered ${failure.status} ${failure.reason}: is ${ctx.endpoint} the Proxmox VE API (https://<node>:8006/)?`;
  }
}
