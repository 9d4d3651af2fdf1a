// The lab's ACME server on the local platform: Debian's pebble, with pebble-challtestsrv as
// its DNS server answering every name with the passthrough's address. Both run inside the
// router namespace (never in the root one), listening on the stage's gateway, so an HTTP-01
// validation really travels pebble → passthrough:80 → certificate host. Pebble keeps its
// issuing CA in memory only: a restart means a new root (the certificates role re-issues).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, HomeprodError } from '../../ui/errors';
import { type LocalConfig, names } from './config';
import { mkdirPrivate, readJson, withLock, writeFileAtomic } from '../../shared/files';
import { cmdline, killAndWait, sh, spawnDetached } from '../../shared/process';
import { inNetns } from './netns';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';
export const PEBBLE_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;
const DNS_PORT = 8053;
const CHALLTESTSRV_MANAGEMENT_PORT = 8055;

export interface AcmeServerSpec {
  stage: string;
  /** The stage gateway: the router's address on the stage bridge, where pebble listens. */
  gateway: string;
  /** Where pebble's DNS sends every name: the passthrough, whose port 80 routes HTTP-01. */
  passthrough: string;
}

export interface AcmeServer {
  /** The ACME directory URL certbot talks to. */
  directory: string;
  /** PEM of the CA that signed pebble's own HTTPS certificate (certbot's REQUESTS_CA_BUNDLE). */
  listenerCa: string;
}

interface AcmeRecord extends AcmeServerSpec {
  pebblePid: number;
  challtestsrvPid: number;
}

export const acmeDir = (cfg: LocalConfig, stage: string) => join(cfg.stateDir, 'acme', stage);

const files = (cfg: LocalConfig, stage: string) => {
  const dir = acmeDir(cfg, stage);
  return {
    dir,
    caKey: join(dir, 'listener-ca.key'),
    caCert: join(dir, 'listener-ca.pem'),
    key: join(dir, 'pebble.key'),
    cert: join(dir, 'pebble.pem'),
    config: join(dir, 'pebble-config.json'),
    record: join(dir, 'processes.json'),
    pebbleLog: join(dir, 'pebble.log'),
    dnsLog: join(dir, 'challtestsrv.log'),
    lock: join(dir, '.lock'),
  };
};

export const acmeDirectoryUrl = (gateway: string) => `https://${gateway}:${PEBBLE_PORT}/dir`;

/** Ours: the right binary with our config / address, and inside our router namespace. */
function alive(cfg: LocalConfig, pid: number, binary: string, marker: string): boolean {
  const argv = cmdline(pid);
  return Boolean(argv && argv.includes(binary) && argv.includes(marker) && inNetns(pid, names(cfg).router));
}

function running(cfg: LocalConfig, rec: AcmeRecord | null): rec is AcmeRecord {
  if (!rec) return false;
  const f = files(cfg, rec.stage);
  return alive(cfg, rec.pebblePid, PEBBLE, f.config) && alive(cfg, rec.challtestsrvPid, CHALLTESTSRV, `${rec.gateway}:${DNS_PORT}`);
}

/**
 * A tiny CA (made once, key 0600) and pebble's listener certificate for the gateway's
 * address, re-made when the gateway changes.
 */
async function ensureListenerCert(cfg: LocalConfig, spec: AcmeServerSpec): Promise<void> {
  const f = files(cfg, spec.stage);
  if (!existsSync(f.caCert) || !existsSync(f.caKey)) {
    const [key, cert] = [`${f.caKey}.tmp-${process.pid}`, `${f.caCert}.tmp-${process.pid}`];
    await sh`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${key}`;
    await sh`chmod 600 ${key}`;
    await sh`openssl req -x509 -new -key ${key} -subj ${`/CN=homeprod local ACME listener CA (${spec.stage})`} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -days 3650 -out ${cert}`;
    await sh`mv ${key} ${f.caKey}`;
    await sh`mv ${cert} ${f.caCert}`;
    rmSync(f.cert, { force: true });
  }
  if (existsSync(f.cert) && existsSync(f.key)) {
    const san = await sh`openssl x509 -in ${f.cert} -noout -ext subjectAltName`.nothrow();
    if (san.stdout.includes(`IP Address:${spec.gateway}`)) return;
  }
  const [key, cert] = [`${f.key}.tmp-${process.pid}`, `${f.cert}.tmp-${process.pid}`];
  await sh`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${key}`;
  await sh`chmod 600 ${key}`;
  await sh`openssl req -x509 -new -key ${key} -CA ${f.caCert} -CAkey ${f.caKey} -subj /CN=pebble -addext ${`subjectAltName=IP:${spec.gateway}`} -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -days 825 -out ${cert}`;
  await sh`mv ${key} ${f.key}`;
  await sh`mv ${cert} ${f.cert}`;
}

/** curl from inside the router namespace, trusting only the listener CA. */
const curlInRouter = (cfg: LocalConfig, stage: string, url: string) =>
  sh`ip netns exec ${names(cfg).router} curl --silent --show-error --fail --max-time 5 --cacert ${files(cfg, stage).caCert} ${url}`.nothrow();

export async function stopAcmeServer(cfg: LocalConfig, stage: string): Promise<boolean> {
  const f = files(cfg, stage);
  const rec = readJson<AcmeRecord>(f.record);
  let stopped = false;
  if (rec) {
    const pids = [
      ...(alive(cfg, rec.pebblePid, PEBBLE, f.config) ? [rec.pebblePid] : []),
      ...(alive(cfg, rec.challtestsrvPid, CHALLTESTSRV, `${rec.gateway}:${DNS_PORT}`) ? [rec.challtestsrvPid] : []),
    ];
    if (pids.length > 0) {
      await killAndWait(pids);
      stopped = true;
    }
  }
  rmSync(f.record, { force: true });
  return stopped;
}

/** Stages that have an ACME server record in this state dir. */
export function acmeStages(cfg: LocalConfig): string[] {
  const dir = join(cfg.stateDir, 'acme');
  if (!existsSync(dir)) return [];
  return ['lab', 'prod'].filter((stage) => existsSync(files(cfg, stage).record));
}

/**
 * Makes pebble and its DNS server run for the stage; a running pair with the same spec is
 * kept (its root CA with it). Needs the stage's bridge, i.e. an applied stage.
 */
export async function ensureAcmeServer(cfg: LocalConfig, spec: AcmeServerSpec, timeoutMs = 30_000): Promise<AcmeServer> {
  const f = files(cfg, spec.stage);
  const router = names(cfg).router;
  if (!existsSync(`/run/netns/${router}`)) {
    throw new HomeprodError(`ACME server for ${spec.stage}: the router namespace ${router} does not exist`, EXIT.precondition, `apply the ${spec.stage} stage first`);
  }
  mkdirPrivate(f.dir);
  return withLock(f.lock, `ACME server ${spec.stage}`, async () => {
    const rec = readJson<AcmeRecord>(f.record);
    const same = running(cfg, rec) && rec.gateway === spec.gateway && rec.passthrough === spec.passthrough;
    if (!same) {
      await stopAcmeServer(cfg, spec.stage);
      await ensureListenerCert(cfg, spec);
      const config = {
        pebble: {
          listenAddress: `${spec.gateway}:${PEBBLE_PORT}`,
          managementListenAddress: `${spec.gateway}:${PEBBLE_MANAGEMENT_PORT}`,
          certificate: f.cert,
          privateKey: f.key,
          // Where validation connects on the address DNS gave: the passthrough's real ports.
          httpPort: 80,
          tlsPort: 443,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      };
      writeFileAtomic(f.config, `${JSON.stringify(config, null, 2)}\n`, 0o600);
      // Validation stays real: PEBBLE_VA_ALWAYS_VALID is removed, not just left unset here.
      const env: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' };
      delete env.PEBBLE_VA_ALWAYS_VALID;
      const dns = `${spec.gateway}:${DNS_PORT}`;
      const challtestsrvPid = spawnDetached(
        'ip',
        // Only the DNS listener: the HTTP-01 answers come from certbot behind the passthrough.
        ['netns', 'exec', router, CHALLTESTSRV, '-defaultIPv4', spec.passthrough, '-defaultIPv6', '', '-dns01', dns, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `${spec.gateway}:${CHALLTESTSRV_MANAGEMENT_PORT}`],
        f.dnsLog,
        env,
      );
      const pebblePid = spawnDetached('ip', ['netns', 'exec', router, PEBBLE, '-config', f.config, '-dnsserver', dns], f.pebbleLog, env);
      writeFileAtomic(f.record, `${JSON.stringify({ ...spec, pebblePid, challtestsrvPid } satisfies AcmeRecord)}\n`, 0o600);
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await curlInRouter(cfg, spec.stage, acmeDirectoryUrl(spec.gateway));
      if (r.exitCode === 0 && r.stdout.includes('newAccount')) break;
      const now = readJson<AcmeRecord>(f.record);
      if (!running(cfg, now) || Date.now() > deadline) {
        const tail = [f.pebbleLog, f.dnsLog].flatMap((log) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-4) : []));
        await stopAcmeServer(cfg, spec.stage);
        throw new HomeprodError(`ACME server for ${spec.stage} (pebble on ${spec.gateway}:${PEBBLE_PORT}) did not come up`, EXIT.failed, `logs: ${f.pebbleLog}, ${f.dnsLog}`, tail);
      }
      await sleep(200);
    }
    return { directory: acmeDirectoryUrl(spec.gateway), listenerCa: readFileSync(f.caCert, 'utf8') };
  });
}

/** The root pebble issues under now (its management API, from inside the router namespace). */
export async function acmeRoot(cfg: LocalConfig, spec: Pick<AcmeServerSpec, 'stage' | 'gateway'>): Promise<string> {
  const r = await curlInRouter(cfg, spec.stage, `https://${spec.gateway}:${PEBBLE_MANAGEMENT_PORT}/roots/0`);
  if (r.exitCode !== 0 || !r.stdout.includes('BEGIN CERTIFICATE')) {
    throw new HomeprodError(`ACME server for ${spec.stage}: no root certificate from https://${spec.gateway}:${PEBBLE_MANAGEMENT_PORT}/roots/0 (${r.stderr.trim() || `curl exit ${r.exitCode}`})`);
  }
  return r.stdout;
}

/** Whether something listens on the address's port, seen from the router (where pebble is). */
export async function reachableFromRouter(cfg: LocalConfig, address: string, port: number): Promise<boolean> {
  const r = await sh`ip netns exec ${names(cfg).router} nc -z -w 2 ${address} ${port}`.nothrow();
  return r.exitCode === 0;
}
