// TLS mode acme on the local platform, as a user runs it: `up` with both stages on acme. Pebble
// runs in the router namespace, one per stage, and validates HTTP-01 for real: pebble →
// passthrough:80 → http map (by name) → the stage's certificate host:80 → certbot. Lab's first
// configure comes before the passthrough exists, so its proxy starts on placeholders and up
// issues once prod brought the route up; prod's own configure sets up the passthrough before it
// issues, so prod is issued on its first run. A second `up` issues nothing.
import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { $ } from 'zx';
import { cliSite, expectExit } from '../helpers/cli-site';

const HTTPS_PORT = 28443;
const LAB_NAME = 'whoami.lab.pegasuspad.com';
const PROD_NAME = 'whoami.pegasuspad.com';
const site = cliSite({
  prefix: 'hpacme',
  httpPort: 28080,
  httpsPort: HTTPS_PORT,
  edit: (doc) => {
    doc.setIn(['stages', 'lab', 'tls', 'mode'], 'acme');
    doc.setIn(['stages', 'prod', 'tls', 'mode'], 'acme');
    // prod's certificate host, as lab has one: its data disk keeps the issued certificates.
    (doc.get('hosts') as { add(v: unknown): void }).add(
      doc.createNode({ name: 'prod-certbot', stage: 'prod', roles: ['certificate-host'], suffix: 13, startup: 'infrastructure', memory: 512, dataDisks: [{ label: 'letsencrypt', mountpoint: '/etc/letsencrypt', size: 1, datastore: 'ssd' }] }),
    );
  },
});
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

/** The challenge requests the passthrough's port 80 carried, one line each. */
async function challengesSeen(): Promise<string[]> {
  const log = await run('local', 'ssh', 'prod-proxy-passthrough', '--', 'grep', '-h', '/.well-known/acme-challenge/', '/var/log/nginx/access.log');
  expectExit(log, 0);
  return log.stdout.trim().split('\n');
}

const served: Record<string, PeerCertificate> = {};

afterAll(() => site.cleanup(), 300_000);

describe('tls mode acme on the local platform, both stages', () => {
  it('up issues every certificate from pebble through the passthrough\'s port 80 and verifies both stages', async () => {
    const r = await run('up', '--yes', '--site', siteFile);
    expectExit(r, 0);
    // Lab's first configure ran before the passthrough existed, then once it was up; prod's
    // configure had the route from its own passthrough.
    expect(r.stdout).toContain('The lab ACME server answers at https://10.111.2.1:14000/dir; the passthrough\'s port 80 does not yet');
    expect(r.stdout).toContain('The prod ACME server answers at https://10.111.1.1:14000/dir');
    expect(r.stdout).not.toContain('The prod ACME server answers at https://10.111.1.1:14000/dir; the passthrough\'s port 80 does not yet');
    expect(r.stdout).toMatch(/Verified lab: \d+ service names/);
    expect(r.stdout).toMatch(/Verified prod: \d+ service names/);
    expect(r.stdout).toMatch(/https:\/\/whoami\.lab\.pegasuspad\.com\/\s+lab\s+prod-proxy-passthrough → lab-proxy → lab-whoami:8080\s+ok/);
    expect(r.stdout).toMatch(/https:\/\/whoami\.pegasuspad\.com\/\s+prod\s+prod-proxy-passthrough → prod-proxy → prod-whoami:8080\s+ok/);

    // Each name's certificate: issued by its stage's pebble, chaining to the root configure
    // fetched from that pebble's management API (the handshake fails otherwise: only that root
    // is trusted), and not the other stage's.
    for (const [stage, name] of [['lab', LAB_NAME], ['prod', PROD_NAME]] as const) {
      const root = readFileSync(join(state, 'tls', `${stage}-ca.pem`), 'utf8');
      expect(root).toContain('BEGIN CERTIFICATE');
      const cert = await servedCertificate(name, root);
      expect(cert.issuer.CN).toContain('Pebble');
      expect(cert.subjectaltname).toContain(`DNS:${name}`);
      served[name] = cert;
    }
    const other = readFileSync(join(state, 'tls', 'lab-ca.pem'), 'utf8');
    await expect(servedCertificate(PROD_NAME, other)).rejects.toThrow();

    // The validations came through the passthrough: pebble's DNS sends every name to it, so its
    // port 80 carried both stages' challenges (its access log has them, answered 200), and only
    // certbot on the stage's own certificate host could answer each: that is where each
    // certificate lives.
    const seen = await challengesSeen();
    expect(seen.filter((l) => /"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/.test(l)).length).toBeGreaterThanOrEqual(2);
    for (const [host, name, otherName] of [['lab-certbot', LAB_NAME, PROD_NAME], ['prod-certbot', PROD_NAME, LAB_NAME]] as const) {
      const live = await run('local', 'ssh', host, '--', 'ls', '/etc/letsencrypt/live');
      expectExit(live, 0);
      expect(live.stdout.split(/\s+/)).toContain(name);
      expect(live.stdout.split(/\s+/)).not.toContain(otherName);
    }

    // The placeholders of lab's first configure are gone once its real certificate is in
    // place; prod never needed any.
    const placeholders = await run('local', 'ssh', 'lab-certbot', '--', 'find', '/var/lib/homeprod/acme/pending', '-mindepth', '1');
    expectExit(placeholders, 0);
    expect(placeholders.stdout.trim()).toBe('');
    expectExit(await run('local', 'ssh', 'prod-certbot', '--', 'test', '!', '-e', '/var/lib/homeprod/acme/pending'), 0);
  }, 1_500_000);

  it('a second up issues nothing new and verifies both stages, nor does configuring each stage again', async () => {
    const before = await challengesSeen();
    const r = await run('up', '--yes', '--site', siteFile);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/Verified lab: \d+ service names/);
    expect(r.stdout).toMatch(/Verified prod: \d+ service names/);
    // up took the fast path; a full configure of each stage must find every certificate current.
    for (const stage of ['lab', 'prod']) {
      const configure = await run('configure', '--stage', stage, '--yes', '--full', '--site', siteFile);
      expectExit(configure, 0);
      expect(configure.stdout).toMatch(/^0 changed/m);
    }
    // The same certificates are served, and no challenge crossed the passthrough.
    for (const [stage, name] of [['lab', LAB_NAME], ['prod', PROD_NAME]] as const) {
      const cert = await servedCertificate(name, readFileSync(join(state, 'tls', `${stage}-ca.pem`), 'utf8'));
      expect(cert.fingerprint256).toBe(served[name]!.fingerprint256);
    }
    expect(await challengesSeen()).toEqual(before);
  }, 600_000);

  it('clean stops both pebbles with everything else', async () => {
    const r = await run('local', 'clean');
    expectExit(r, 0);
    expect(r.stderr).toContain('stopped the lab ACME server (pebble)');
    expect(r.stderr).toContain('stopped the prod ACME server (pebble)');
    const left = await $({ nothrow: true, quiet: true })`pgrep -af ${join(state, 'local', 'acme')}`;
    expect(left.stdout.trim()).toBe('');
  }, 300_000);
});
