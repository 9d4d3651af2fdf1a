// Test support for rendered nginx configs: a throwaway CA and certificates made with openssl,
// run-time paths inside a temp dir, and `nginx -t` of a rendered host.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NginxRuntime } from '../../tasks/lib/render/index';

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export interface TestCa {
  dir: string;
  cert: string;
  key: string;
  /** PEM of the CA certificate, for clients to trust. */
  pem: string;
}

export function makeCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=homeprod test CA']);
  chmodSync(key, 0o600);
  return { dir, cert, key, pem: readFileSync(cert, 'utf8') };
}

/** Issues <tlsDir>/<name>/{fullchain,privkey}.pem for the names (an IPv4 address becomes an IP SAN), as the hosts keep them; the name defaults to the first hostname. */
export function issueCertificate(ca: TestCa, tlsDir: string, hostnames: string[], name = hostnames[0]): string {
  const [first] = hostnames;
  if (!first || !name) throw new Error('issueCertificate needs a hostname');
  const dir = join(tlsDir, name);
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'privkey.pem');
  const csr = join(dir, 'request.csr');
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, `subjectAltName=${hostnames.map((h) => (/^\d+\.\d+\.\d+\.\d+$/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',')}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${first}`]);
  chmodSync(key, 0o600);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', join(dir, 'fullchain.pem')]);
  return dir;
}

/** Points <tlsDir>/<name>/ at one existing certificate directory (for sites too big to issue one each). */
export function shareCertificate(certDir: string, tlsDir: string, name: string): void {
  const dir = join(tlsDir, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(certDir, 'fullchain.pem'), join(dir, 'fullchain.pem'));
  symlinkSync(join(certDir, 'privkey.pem'), join(dir, 'privkey.pem'));
}

/** Run-time paths of one nginx instance inside `dir` (root keeps the test free of permission setup). */
export function testRuntime(dir: string): NginxRuntime {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'temp'), { recursive: true });
  return { user: 'root', pidFile: join(dir, 'nginx.pid'), errorLog: join(dir, 'logs', 'error.log'), logDir: join(dir, 'logs'), tempDir: join(dir, 'temp') };
}

/**
 * Debian's prefix: its modules-enabled files load modules by paths relative to it. Every path
 * nginx writes to comes from the rendered config (testRuntime), so nothing lands there.
 */
export const NGINX_PREFIX = '/usr/share/nginx';

/** `nginx -t` of a rendered nginx.conf; stderr holds nginx's verdict and any warning. */
export function nginxTest(conf: string): { ok: boolean; stderr: string } {
  const result = spawnSync('nginx', ['-t', '-p', NGINX_PREFIX, '-c', conf, '-e', 'stderr'], { encoding: 'utf8', timeout: 120_000 });
  return { ok: result.status === 0, stderr: result.stderr };
}

/** A temp dir in memory when the machine has /dev/shm: tens of thousands of small files are
 * written and removed far faster there than on a busy disk. */
export function scratchDir(prefix: string): string {
  const shm = '/dev/shm';
  try {
    accessSync(shm, constants.W_OK);
    return mkdtempSync(join(shm, prefix));
  } catch {
    return mkdtempSync(join(tmpdir(), prefix));
  }
}
