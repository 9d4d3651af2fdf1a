// The local platform's ACME server on its own: pebble and its DNS server in a router namespace
// this test makes, kept while they run (same root), replaced when killed (new root), never
// told to skip validation, answering every name with the passthrough's address, and stopped
// by clean. Seconds, not minutes: no machines.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { acmeRoot, acmeStages, ensureAcmeServer, reachableFromRouter, stopAcmeServer } from '../../tasks/lib/platform/local/acme';
import { clean } from '../../tasks/lib/platform/local/clean';
import { type LocalConfig, names } from '../../tasks/lib/platform/local/config';
import { cmdline, killAndWait } from '../../tasks/lib/shared/process';
import { inNetns } from '../../tasks/lib/platform/local/netns';

const stateDir = mkdtempSync(join(tmpdir(), 'homeprod-acme-'));
const cfg: LocalConfig = { stateDir, cacheDir: '/nonexistent', nsPrefix: 'hpacs', stateRoot: stateDir };
const router = names(cfg).router;
const spec = { stage: 'lab', gateway: '10.251.2.1', passthrough: '10.251.1.10' };
const record = () => JSON.parse(readFileSync(join(cfg.stateDir, 'acme', 'lab', 'processes.json'), 'utf8')) as { pebblePid: number; challtestsrvPid: number };
const sh = $({ quiet: true, nothrow: true });

/** One A query to the DNS server pebble uses, from inside the router namespace. */
const dnsA = (name: string) =>
  sh`ip netns exec ${router} python3 -c ${`
import socket, struct
q = struct.pack('>HHHHHH', 7, 0x100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in ${JSON.stringify(name)}.split('.')) + b'\\0' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(q, ('${spec.gateway}', 8053))
d = s.recv(512)
def skip(i):
    while d[i] and d[i] < 0xc0: i += d[i] + 1
    return i + (2 if d[i] else 1)
i = skip(12) + 4
for _ in range(struct.unpack('>H', d[6:8])[0]):
    i = skip(i)
    t, c, ttl, n = struct.unpack('>HHIH', d[i:i + 10]); i += 10
    if t == 1: print(socket.inet_ntoa(d[i:i + n]))
    i += n
`}`;

beforeAll(async () => {
  await sh`ip netns del ${router}`;
  await $`ip netns add ${router}`;
  // As the platform's router: pebble's own address is reached over lo.
  await $`ip -n ${router} link set lo up`;
  await $`ip -n ${router} link add br-lab type bridge`;
  await $`ip -n ${router} addr add ${`${spec.gateway}/24`} dev br-lab`;
  await $`ip -n ${router} link set br-lab up`;
});

afterAll(async () => {
  await clean(cfg, { destroyData: true }, () => undefined).catch(() => undefined);
  await sh`ip netns del ${router}`;
  rmSync(cfg.stateDir, { recursive: true, force: true });
}, 60_000);

describe('local ACME server (pebble)', () => {
  let firstRoot = '';

  it('starts in the router namespace and serves its directory and root over the listener CA', async () => {
    process.env.PEBBLE_VA_ALWAYS_VALID = '1';
    try {
      const server = await ensureAcmeServer(cfg, spec);
      expect(server.directory).toBe('https://10.251.2.1:14000/dir');
      expect(server.listenerCa).toContain('BEGIN CERTIFICATE');
    } finally {
      delete process.env.PEBBLE_VA_ALWAYS_VALID;
    }
    const { pebblePid } = record();
    const environ = readFileSync(`/proc/${pebblePid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('PEBBLE_VA_NOSLEEP=1');
    expect(environ.filter((e) => e.startsWith('PEBBLE_VA_ALWAYS_VALID'))).toEqual([]);
    expect(cmdline(pebblePid)).toContain('/usr/bin/pebble');
    firstRoot = await acmeRoot(cfg, spec);
    expect(firstRoot).toContain('BEGIN CERTIFICATE');
    for (const key of ['listener-ca.key', 'pebble.key']) expect(statSync(join(cfg.stateDir, 'acme', 'lab', key)).mode & 0o777).toBe(0o600);
    expect(inNetns(pebblePid, router)).toBe(true);
  }, 60_000);

  it('answers every name with the passthrough\'s address', async () => {
    const r = await dnsA('anything.lab.pegasuspad.com');
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim()).toBe(spec.passthrough);
    expect(await reachableFromRouter(cfg, spec.passthrough, 80)).toBe(false);
  }, 30_000);

  it('keeps a running server (and its root); a killed one is replaced with a new root', async () => {
    const before = record();
    await ensureAcmeServer(cfg, spec);
    expect(record()).toEqual(before);
    expect(await acmeRoot(cfg, spec)).toBe(firstRoot);
    await killAndWait([before.pebblePid]);
    await ensureAcmeServer(cfg, spec);
    expect(record().pebblePid).not.toBe(before.pebblePid);
    expect(cmdline(before.challtestsrvPid)).toBeNull();
    expect(await acmeRoot(cfg, spec)).not.toBe(firstRoot);
  }, 60_000);

  it('stop ends both processes; clean stops a running server too', async () => {
    const { pebblePid, challtestsrvPid } = record();
    expect(await stopAcmeServer(cfg, 'lab')).toBe(true);
    expect([cmdline(pebblePid), cmdline(challtestsrvPid)]).toEqual([null, null]);
    expect(acmeStages(cfg)).toEqual([]);
    await ensureAcmeServer(cfg, spec);
    const again = record();
    const said: string[] = [];
    await clean(cfg, { destroyData: false }, (line) => said.push(line));
    expect(said).toContain('stopped the lab ACME server (pebble)');
    expect([cmdline(again.pebblePid), cmdline(again.challtestsrvPid)]).toEqual([null, null]);
  }, 60_000);
});
