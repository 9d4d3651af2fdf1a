import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadSite, validateSite } from '../../tasks/lib/model';
import { certificatesOf } from '../../tasks/lib/model/certificates';
import { derivedMac } from '../../tasks/lib/model/normalize';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pegasus = (): Raw => parse(readFileSync('inventory/site.yaml', 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'homeprod-model-'));
let n = 0;

/** Writes a mutated Pegasus site and returns its error lines. */
function errorsOf(mutate: (site: Raw) => void, extraFiles: Record<string, string> = {}): string[] {
  const site = pegasus();
  mutate(site);
  const file = join(dir, `site-${n++}.yaml`);
  writeFileSync(file, stringify(site));
  for (const [name, text] of Object.entries(extraFiles)) writeFileSync(join(dir, name), text);
  return validateSite(file).errors;
}
const host = (site: Raw, name: string) => site.hosts.find((h: Raw) => h.name === name);
const service = (site: Raw, name: string) => site.services.find((s: Raw) => s.name === name);

describe('the shipped Pegasus site', () => {
  it('is valid and derives addresses, VMIDs, MACs, boot order and stack names', () => {
    const site = loadSite('inventory/site.yaml');
    const passthrough = site.hosts.find((h) => h.name === 'prod-proxy-passthrough')!;
    expect(passthrough).toMatchObject({ ipv4: '10.111.1.10', vmid: 4010, bootOrder: 1000, onBoot: true, stackName: 'prod-proxy-passthrough-vm', dataStackName: null });
    expect(passthrough.mac).toBe(derivedMac('pegasuspad.com', 'prod-proxy-passthrough'));
    expect(passthrough.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    const ansible = site.hosts.find((h) => h.name === 'lab-ansible')!;
    expect(ansible).toMatchObject({ vmid: 5012, dataVmid: 95012, dataVmName: 'lab-ansible-data', dataStackName: 'lab-ansible-data-vm' });
    expect(ansible.dataDisks).toEqual([{ label: 'ansible', mountpoint: '/var/lib/ansible', size: 8, readOnly: false, datastoreClass: 'hdd', interface: 'scsi1' }]);
    expect(site.services.find((s) => s.name === 'whoami-lab')!.upstream).toEqual({ host: 'lab-whoami', address: '10.111.2.20', port: 8080 });
    expect(site.hosts.map((h) => h.name)).toEqual(
      expect.arrayContaining(['prod-proxy-passthrough', 'prod-proxy', 'prod-ansible', 'lab-ansible', 'lab-proxy', 'lab-certbot']),
    );
  });

  it('takes a fixed MAC and the never phase as given', () => {
    const site = pegasus();
    host(site, 'lab-whoami').mac = '02:00:00:00:00:42';
    host(site, 'lab-whoami').startup = 'never';
    const file = join(dir, 'fixed.yaml');
    writeFileSync(file, stringify(site));
    const h = loadSite(file).hosts.find((x) => x.name === 'lab-whoami')!;
    expect(h).toMatchObject({ mac: '02:00:00:00:00:42', bootOrder: null, onBoot: false });
  });
});

describe('certificates', () => {
  it('are one per service by default, named by its first hostname, and shared when services name one', () => {
    const file = join(dir, 'certificates.yaml');
    const raw = pegasus();
    raw.services.push({ ...service(raw, 'whoami-lab'), name: 'notes-lab', hostnames: ['notes.lab.pegasuspad.com', 'wiki.lab.pegasuspad.com'], certificate: 'lab-apps' });
    raw.services.push({ ...service(raw, 'whoami-lab'), name: 'paste-lab', hostnames: ['paste.lab.pegasuspad.com'], certificate: 'lab-apps' });
    writeFileSync(file, stringify(raw));
    const site = loadSite(file);
    expect(certificatesOf(site.services, 'lab').map((c) => [c.name, c.hostnames, c.services.map((s) => s.name)])).toEqual([
      ['lab-apps', ['notes.lab.pegasuspad.com', 'wiki.lab.pegasuspad.com', 'paste.lab.pegasuspad.com'], ['notes-lab', 'paste-lab']],
      ['whoami.lab.pegasuspad.com', ['whoami.lab.pegasuspad.com'], ['whoami-lab']],
    ]);
    expect(certificatesOf(site.services, 'prod').map((c) => c.name)).toEqual(['whoami.pegasuspad.com']);
  });
});

describe('a site with several mistakes in two files', () => {
  it('reports each mistake once, as file:line:col: path: message', () => {
    const errors = validateSite('test/fixtures/bad-site/site.yaml').errors;
    expect(errors).toEqual([
      expect.stringMatching(/^test\/fixtures\/bad-site\/more-services\.yaml:5:5: YAML syntax error: /),
      'test/fixtures/bad-site/site.yaml:135:5: hosts[7].memroy: unknown key "memroy" (did you mean "memory"?)',
      'test/fixtures/bad-site/site.yaml:140:17: services[0].hostnames[0]: "who..ami.pegasuspad.com" is not a valid DNS name',
      'test/fixtures/bad-site/site.yaml:116:13: hosts[5].suffix: duplicate IP 10.111.2.12 (also hosts[4] lab-ansible)',
      'test/fixtures/bad-site/site.yaml:116:13: hosts[5].suffix: duplicate VMID 5012 (also hosts[4] lab-ansible)',
      'test/fixtures/bad-site/site.yaml:144:17: services[1].hostnames[0]: lab service hostname "whoami-lab.pegasuspad.com" must be under lab.pegasuspad.com (the passthrough routes lab by that suffix)',
    ]);
  });

  it('locates values that come from an imported file in that file', () => {
    const errors = errorsOf((s) => (s.imports = ['extra.yaml']), {
      'extra.yaml': 'services:\n  - name: extra\n    stage: prod\n    hostnames: [extra.lab.pegasuspad.com]\n    upstream: { host: prod-whoami, port: 81 }\n',
    });
    expect(errors).toEqual([expect.stringMatching(/extra\.yaml:4:17: services\[2\]\.hostnames\[0\]: prod service hostname "extra\.lab\.pegasuspad\.com" is under lab\.pegasuspad\.com/)]);
  });
});

// One pair per rule: a near variant that passes, and the mistake it must catch.
const cases: Array<{ rule: string; ok: (s: Raw) => void; bad: (s: Raw) => void; error: RegExp }> = [
  { rule: 'unknown keys suggest the nearest key', ok: (s) => (host(s, 'lab-proxy').memory = 512), bad: (s) => (host(s, 'lab-proxy').cpus = 2), error: /hosts\[5\]\.cpus: unknown key "cpus" \(did you mean "cpu"\?\)/ },
  { rule: 'unknown stage', ok: (s) => (host(s, 'lab-proxy').stage = 'lab'), bad: (s) => (host(s, 'lab-proxy').stage = 'labb'), error: /hosts\[5\]\.stage: "labb" is not one of lab, prod \(did you mean "lab"\?\)/ },
  { rule: 'unknown role', ok: (s) => host(s, 'lab-whoami').roles.push('application'), bad: (s) => host(s, 'lab-whoami').roles.push('aplication'), error: /hosts\[7\]\.roles\[1\]: "aplication" is not one of .* \(did you mean "application"\?\)/ },
  { rule: 'duplicate host names', ok: (s) => (host(s, 'lab-certbot').name = 'lab-certbot2'), bad: (s) => (host(s, 'lab-certbot').name = 'lab-proxy'), error: /hosts\[6\]\.name: duplicate host name "lab-proxy" \(also hosts\[5\]\)/ },
  { rule: 'duplicate IPs', ok: (s) => (host(s, 'lab-whoami').suffix = 21), bad: (s) => (host(s, 'lab-whoami').suffix = 11), error: /hosts\[7\]\.suffix: duplicate IP 10\.111\.2\.11 \(also hosts\[5\] lab-proxy\)/ },
  {
    rule: 'duplicate VMIDs',
    ok: (s) => (s.stages.lab.vmidPrefix = 6),
    bad: (s) => { s.stages.lab.network.cidr = '10.111.3.0/24'; s.stages.lab.network.gateway = '10.111.3.1'; s.stages.lab.vmidPrefix = 4; },
    error: /hosts\[5\]\.suffix: duplicate VMID 4011 \(also hosts\[1\] prod-proxy\)/,
  },
  { rule: 'duplicate MACs', ok: (s) => (host(s, 'lab-whoami').mac = '02:00:00:00:00:01'), bad: (s) => { host(s, 'lab-whoami').mac = '02:00:00:00:00:01'; host(s, 'lab-proxy').mac = '02:00:00:00:00:01'; }, error: /hosts\[7\]\.mac: duplicate MAC 02:00:00:00:00:01 \(also hosts\[5\] lab-proxy\)/ },
  { rule: 'duplicate service hostnames', ok: (s) => service(s, 'whoami-lab').hostnames.push('w.lab.pegasuspad.com'), bad: (s) => service(s, 'whoami').hostnames.push('whoami.pegasuspad.com'), error: /services\[0\]\.hostnames\[1\]: duplicate service hostname "whoami\.pegasuspad\.com"/ },
  { rule: 'duplicate service names', ok: (s) => (service(s, 'whoami-lab').name = 'whoami2'), bad: (s) => (service(s, 'whoami-lab').name = 'whoami'), error: /services\[1\]\.name: duplicate service name "whoami"/ },
  { rule: 'suffix outside the static range', ok: (s) => (host(s, 'lab-whoami').suffix = 199), bad: (s) => (host(s, 'lab-whoami').suffix = 200), error: /hosts\[7\]\.suffix: suffix 200 is outside the lab static range 10-199/ },
  { rule: 'upstream host unknown', ok: (s) => (service(s, 'whoami').upstream = { address: '10.111.1.99', port: 80 }), bad: (s) => (service(s, 'whoami').upstream.host = 'prod-whoamii'), error: /services\[0\]\.upstream\.host: "prod-whoamii" is neither a host of the site nor an address \(did you mean "prod-whoami"\?\)/ },
  { rule: 'upstream address invalid', ok: (s) => (service(s, 'whoami').upstream = { address: '10.0.0.1', port: 80 }), bad: (s) => (service(s, 'whoami').upstream = { address: '10.0.0.300', port: 80 }), error: /services\[0\]\.upstream\.address: "10\.0\.0\.300" is not an IPv4 address/ },
  { rule: 'upstream in another stage', ok: (s) => (service(s, 'whoami').upstream.host = 'prod-ansible'), bad: (s) => (service(s, 'whoami').upstream.host = 'lab-whoami'), error: /services\[0\]\.upstream\.host: host "lab-whoami" is in stage lab, the service in prod/ },
  { rule: 'hostname not a DNS name', ok: (s) => (service(s, 'whoami').hostnames = ['who-ami.pegasuspad.com']), bad: (s) => (service(s, 'whoami').hostnames = ['who_ami.pegasuspad.com']), error: /services\[0\]\.hostnames\[0\]: "who_ami\.pegasuspad\.com" is not a valid DNS name/ },
  { rule: 'hostname outside the domain', ok: (s) => (service(s, 'whoami').hostnames = ['pegasuspad.com']), bad: (s) => (service(s, 'whoami').hostnames = ['whoami.example.org']), error: /services\[0\]\.hostnames\[0\]: "whoami\.example\.org" is outside the domain pegasuspad\.com/ },
  { rule: 'lab service outside lab.<domain>', ok: (s) => (service(s, 'whoami-lab').hostnames = ['a.b.lab.pegasuspad.com']), bad: (s) => (service(s, 'whoami-lab').hostnames = ['lab.pegasuspad.com']), error: /services\[1\]\.hostnames\[0\]: lab service hostname "lab\.pegasuspad\.com" must be under lab\.pegasuspad\.com/ },
  { rule: 'prod service under lab.<domain>', ok: (s) => (service(s, 'whoami').hostnames = ['lab-tools.pegasuspad.com']), bad: (s) => (service(s, 'whoami').hostnames = ['x.lab.pegasuspad.com']), error: /services\[0\]\.hostnames\[0\]: prod service hostname "x\.lab\.pegasuspad\.com" is under lab\.pegasuspad\.com/ },
  {
    rule: 'two data disks with one mountpoint',
    ok: (s) => host(s, 'lab-ansible').dataDisks.push({ label: 'keys', mountpoint: '/var/lib/keys', size: 1 }),
    bad: (s) => host(s, 'lab-ansible').dataDisks.push({ label: 'keys', mountpoint: '/var/lib/ansible', size: 1 }),
    error: /hosts\[4\]\.dataDisks\[1\]\.mountpoint: two data disks mount on \/var\/lib\/ansible \(also dataDisks\[0\]\)/,
  },
  { rule: 'a stage without a control node', ok: (s) => (host(s, 'lab-certbot').roles = ['certificate-host', 'application']), bad: (s) => (host(s, 'lab-ansible').roles = ['application']), error: /stages\.lab: stage lab has no host with role "control-node"/ },
  { rule: 'a stage without a stage proxy', ok: (s) => (host(s, 'prod-proxy').roles = ['stage-proxy', 'application']), bad: (s) => (host(s, 'prod-proxy').roles = ['application']), error: /stages\.prod: stage prod has no host with role "stage-proxy"/ },
  { rule: 'prod without the passthrough', ok: (s) => (host(s, 'prod-proxy-passthrough').cpu = 1), bad: (s) => (host(s, 'prod-proxy-passthrough').roles = ['application']), error: /stages\.prod: stage prod has no host with role "passthrough"/ },
  { rule: 'acme without a certificate host', ok: (s) => (s.stages.lab.tls = { mode: 'acme' }), bad: (s) => (s.stages.prod.tls = { mode: 'acme' }), error: /stages\.prod\.tls\.mode: stage prod uses acme but has no host with role "certificate-host"/ },
  { rule: 'unknown image', ok: (s) => (host(s, 'lab-whoami').image = 'debian-12'), bad: (s) => (host(s, 'lab-whoami').image = 'debian-13'), error: /hosts\[7\]\.image: unknown image "debian-13" \(known: debian-12\)/ },
  { rule: 'DHCP on the local platform', ok: (s) => { s.stages.lab.platform = 'proxmox'; host(s, 'lab-certbot').dhcp = true; }, bad: (s) => (host(s, 'lab-certbot').dhcp = true), error: /hosts\[6\]\.dhcp: the local platform has no DHCP server/ },
  { rule: 'one subnet for both local stages', ok: (s) => (s.stages.lab.network = { cidr: '10.111.9.0/24' }), bad: (s) => (s.stages.lab.network = { cidr: '10.111.1.0/24' }), error: /stages\.lab\.network\.cidr: lab and prod share 10\.111\.1\.0\/24/ },
  {
    rule: 'a certificate shared across stages',
    ok: (s) => (service(s, 'whoami').certificate = 'shared'),
    bad: (s) => { service(s, 'whoami').certificate = 'shared'; service(s, 'whoami-lab').certificate = 'shared'; },
    error: /services\[1\]\.certificate: certificate "shared" also holds services\[0\] whoami of stage prod; a certificate belongs to one stage/,
  },
  {
    rule: 'an ACME certificate with more than 100 names',
    ok: (s) => { s.stages.lab.tls = { mode: 'acme' }; service(s, 'whoami-lab').hostnames = Array.from({ length: 100 }, (_, i) => `h${i}.lab.pegasuspad.com`); },
    bad: (s) => { s.stages.lab.tls = { mode: 'acme' }; service(s, 'whoami-lab').hostnames = Array.from({ length: 101 }, (_, i) => `h${i}.lab.pegasuspad.com`); },
    error: /services\[1\]\.hostnames: certificate "h0\.lab\.pegasuspad\.com" would hold 101 names; an ACME certificate holds at most 100/,
  },
  { rule: 'a certificate name nginx cannot use as a directory', ok: (s) => (service(s, 'whoami').certificate = 'apps-1.pegasuspad.com'), bad: (s) => (service(s, 'whoami').certificate = 'Apps/1'), error: /services\[0\]\.certificate: "Apps\/1" is not a certificate name/ },
  { rule: 'one VMID prefix for both stages', ok: (s) => (s.stages.lab.vmidPrefix = 7), bad: (s) => (s.stages.lab.vmidPrefix = 4), error: /stages\.lab\.vmidPrefix: lab and prod share VMID prefix 4/ },
];

describe.each(cases)('rule: $rule', ({ ok, bad, error }) => {
  it('passes the valid variant', () => expect(errorsOf(ok)).toEqual([]));
  it('reports the mistake with its position', () => {
    const errors = errorsOf(bad);
    expect(errors.some((e) => error.test(e))).toBe(true);
    for (const e of errors) expect(e).toMatch(/site-\d+\.yaml:\d+:\d+: /);
  });
});
