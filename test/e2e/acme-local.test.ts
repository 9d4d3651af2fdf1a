// TLS mode acme on the local platform, as a user runs it: `up` with lab on acme. Pebble runs
// in the router namespace and validates HTTP-01 for real: pebble → passthrough:80 → http map
// (lab name) → lab-certbot:80 → certbot. Lab's first configure comes before the passthrough
// exists, so its proxy starts on placeholders and up issues once prod brought the route up.
// One `up` only: it boots all eight machines.
import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { $ } from 'zx';
import { cliSite, expectExit } from '../helpers/cli-site';

const HTTPS_PORT = 28443;
const LAB_NAME = 'whoami.lab.pegasuspad.com';
const site = cliSite({ prefix: 'hpacme', httpPort: 28080, httpsPort: HTTPS_PORT, edit: (doc) => doc.setIn(['stages', 'lab', 'tls', 'mode'], 'acme') });
const { state, siteFile, run } = site;

/** The certificate the passthrough's loopback forward serves for `name`, trusting only `ca`. */
function servedCertificate(name: string, ca: string): Promise<PeerCertificate> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: '127.0.0.1', port: HTTPS_PORT, servername: name, ca, timeout: 10_000 }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolvePromise(cert);
    });
    socket.on('error', reject);
    socket.on('timeout', () => socket.destroy(new Error(`TLS handshake for ${name} timed out`)));
  });
}

afterAll(() => site.cleanup(), 300_000);

describe('tls mode acme on the local platform', () => {
  it('up issues the lab certificate from pebble through the passthrough\'s port 80 and verifies it', async () => {
    const r = await run('up', '--yes', '--site', siteFile);
    expectExit(r, 0);
    // Lab's first configure ran before the passthrough existed, then once it was up.
    expect(r.stdout).toContain('certificates are placeholders until a run after it is up');
    expect(r.stdout).toMatch(/Verified lab: \d+ service names/);
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+prod-proxy-passthrough → lab-proxy → lab-whoami:8080\s+ok/);

    // The lab name's certificate: issued by pebble, chaining to the root configure fetched from
    // pebble's management API (the handshake fails otherwise: only that root is trusted).
    const root = readFileSync(join(state, 'tls', 'lab-ca.pem'), 'utf8');
    expect(root).toContain('BEGIN CERTIFICATE');
    const cert = await servedCertificate(LAB_NAME, root);
    expect(cert.issuer.CN).toContain('Pebble');
    expect(cert.subjectaltname).toContain(`DNS:${LAB_NAME}`);

    // The validation came through the passthrough: certbot on lab-certbot answered the
    // challenge, and the passthrough's port 80 carried it (its access log has the request).
    const log = await run('local', 'ssh', 'prod-proxy-passthrough', '--', 'grep', '-h', '/.well-known/acme-challenge/', '/var/log/nginx/access.log');
    expectExit(log, 0);
    expect(log.stdout).toMatch(/"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);

    // The placeholders of the first configure are gone once the real certificate is in place.
    const placeholders = await run('local', 'ssh', 'lab-certbot', '--', 'find', '/var/lib/homeprod/acme/pending', '-mindepth', '1');
    expectExit(placeholders, 0);
    expect(placeholders.stdout.trim()).toBe('');

    // prod stays on its own CA.
    const prodCa = readFileSync(join(state, 'tls', 'prod-ca.pem'), 'utf8');
    const prodCert = await servedCertificate('whoami.pegasuspad.com', prodCa);
    expect(prodCert.issuer.CN).toBe('homeprod prod CA');
  }, 1_500_000);

  it('clean stops pebble with everything else', async () => {
    const r = await run('local', 'clean');
    expectExit(r, 0);
    expect(r.stderr).toContain('stopped the lab ACME server (pebble)');
    const left = await $({ nothrow: true, quiet: true })`pgrep -af ${join(state, 'local', 'acme')}`;
    expect(left.stdout.trim()).toBe('');
  }, 300_000);
});
