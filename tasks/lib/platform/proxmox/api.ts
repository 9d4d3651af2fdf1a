// A read-only client of the Proxmox VE API (GET /api2/json/...), as the provider talks to it:
// HTTPS with the certificate verified (system roots plus the site's caCert) at TLS 1.3, the
// provider's default minimum, and the token in the Authorization header. The token never
// appears in an error: failures are classified into what the operator can act on.
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

export interface ApiOptions {
  /** e.g. https://pve.example.com:8006/ (without /api2/json, as the provider takes it). */
  endpoint: string;
  /** `USER@REALM!TOKENID=SECRET` */
  token: string;
  /** PEM text of a CA to trust besides the system roots. */
  ca?: string;
  /** Skip certificate verification (the --insecure flag). */
  insecure?: boolean;
  timeoutMs?: number;
}

export type ApiFailure =
  | { kind: 'unreachable'; detail: string }
  | { kind: 'certificate'; detail: string }
  | { kind: 'http'; status: number; reason: string };

/** A failed request: what went wrong, in words that never include the token. */
export class ApiError extends Error {
  constructor(
    readonly path: string,
    readonly failure: ApiFailure,
  ) {
    super(failure.kind === 'http' ? `GET ${path}: ${failure.status} ${failure.reason}` : `GET ${path}: ${failure.detail}`);
    this.name = 'ApiError';
  }
}

// Node's codes for a certificate it could not verify (the rest are network failures).
const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH/;

export interface ProxmoxApi {
  readonly endpoint: string;
  /** The `data` of GET /api2/json<path>; `query` values are URL-encoded. */
  get<T>(path: string, query?: Record<string, string>): Promise<T>;
}

export function proxmoxApi(options: ApiOptions): ProxmoxApi {
  const base = new URL('api2/json/', options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
  const ca = options.ca ? [...rootCertificates, options.ca] : undefined;
  return {
    endpoint: options.endpoint,
    get: <T>(path: string, query: Record<string, string> = {}) =>
      new Promise<T>((resolvePromise, reject) => {
        const url = new URL(path.replace(/^\//, ''), base);
        for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
        const fail = (failure: ApiFailure) => reject(new ApiError(path, failure));
        const req = request(url, {
          method: 'GET',
          headers: { Authorization: `PVEAPIToken=${options.token}`, Accept: 'application/json' },
          ca,
          rejectUnauthorized: !options.insecure,
          minVersion: 'TLSv1.3',
          timeout: options.timeoutMs ?? 10_000,
        });
        req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${(options.timeoutMs ?? 10_000) / 1000}s`), { code: 'ETIMEDOUT' })));
        req.on('error', (error: NodeJS.ErrnoException) => {
          const code = error.code ?? '';
          if (CERTIFICATE_ERRORS.test(code)) fail({ kind: 'certificate', detail: `${error.message} (${code})` });
          else fail({ kind: 'unreachable', detail: code && !error.message.includes(code) ? `${error.message} (${code})` : error.message });
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            // Proxmox puts the reason of a failure into the status line, the body is {"data":null}.
            if (status !== 200) return fail({ kind: 'http', status, reason: (res.statusMessage ?? '').trim() || 'no reason given' });
            try {
              resolvePromise((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: T }).data);
            } catch {
              fail({ kind: 'http', status, reason: 'the answer is not a JSON {"data": ...} envelope' });
            }
          });
        });
        req.end();
      }),
  };
}
