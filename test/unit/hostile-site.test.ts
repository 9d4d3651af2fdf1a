// Site files written to attack the generated configs: each class of the hostile-site issue is
// refused by check with one line naming file:line:col and the field, and its harmless variant
// passes. (The fuzz test feeds generated variants through render and nginx -t as well.)
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { validateSite } from '../../tasks/lib/model';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pegasus = (): Raw => parse(readFileSync('inventory/site.yaml', 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'homeprod-hostile-'));
let n = 0;

function errorsOf(mutate: (site: Raw) => void): string[] {
  const site = pegasus();
  mutate(site);
  const file = join(dir, `site-${n++}.yaml`);
  writeFileSync(file, stringify(site, { lineWidth: 0 }));
  return validateSite(file).errors;
}
const host = (site: Raw, name: string) => site.hosts.find((h: Raw) => h.name === name);
const service = (site: Raw, name: string) => site.services.find((s: Raw) => s.name === name);
const lines = (s: Raw, ...extra: string[]) => (service(s, 'whoami').extraLocationLines = extra);
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPnNU65c+16ALPFGvZw1K2zzOVzIL6xSZMMM9wB3vuzq';

interface Case {
  name: string;
  ok: (site: Raw) => void;
  bad: (site: Raw) => void;
  /** The one error line after `file:line:col: `. */
  error: RegExp;
}

const critical: Case[] = [
  {
    name: 'extra lines that close the location and open another',
    ok: (s) => lines(s, 'add_header X-Frame-Options DENY;'),
    bad: (s) => lines(s, 'return 200 ok; } location /x { return 200 pwn;'),
    error: /^services\[0\]\.extraLocationLines\[0\]: "return 200 ok; } location \/x \{ return 200 pwn;" has text after its ";"/,
  },
  { name: 'a brace in extra lines', ok: (s) => lines(s, 'proxy_set_header X-Custom "a b";'), bad: (s) => lines(s, '} server { listen 8443;'), error: /^services\[0\]\.extraLocationLines\[0\]: "} server \{ listen 8443;" contains "}": a line is one directive, never a block/ },
  { name: 'alias and autoindex', ok: (s) => lines(s, 'proxy_read_timeout 300s;'), bad: (s) => lines(s, 'alias /etc/;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "alias" is not allowed in extra lines/ },
  { name: 'include', ok: (s) => lines(s, 'gzip on;'), bad: (s) => lines(s, 'include /etc/shadow;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "include" is not allowed/ },
  { name: "another service's server name", ok: (s) => lines(s, 'expires 1h;'), bad: (s) => lines(s, 'server_name whoami.lab.pegasuspad.com;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "server_name" is not allowed/ },
  { name: "another certificate's key", ok: (s) => lines(s, 'proxy_buffering off;'), bad: (s) => lines(s, 'ssl_certificate_key /etc/homeprod/tls/x/privkey.pem;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "ssl_certificate_key" is not allowed/ },
  { name: 'a route of its own', ok: (s) => lines(s, 'proxy_redirect off;'), bad: (s) => lines(s, 'proxy_pass http://169.254.169.254;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "proxy_pass" is not allowed/ },
  { name: 'a log file written as root', ok: (s) => lines(s, 'add_header X-A "b";'), bad: (s) => lines(s, 'access_log /etc/cron.d/x;'), error: /^services\[0\]\.extraLocationLines\[0\]: directive "access_log" is not allowed/ },
  { name: "homeprod's routing variable", ok: (s) => lines(s, 'set $backend_hint a;'), bad: (s) => lines(s, 'set $homeprod_upstream evil;'), error: /^services\[0\]\.extraLocationLines\[0\]: "set \$homeprod_upstream evil;" uses homeprod's own \$homeprod_ variables/ },
  { name: 'a comment that swallows the terminator', ok: (s) => lines(s, 'add_header X-A "#1";'), bad: (s) => lines(s, 'add_header X-A 1 #;'), error: /^services\[0\]\.extraLocationLines\[0\]: "add_header X-A 1 #;" contains "#" outside quotes/ },
  { name: 'an unclosed quote', ok: (s) => lines(s, "add_header X-A 'it\\'s';"), bad: (s) => lines(s, 'add_header X-A "a;'), error: /^services\[0\]\.extraLocationLines\[0\]: "add_header X-A \\"a;" has an unclosed " quote/ },
  { name: 'a newline in extra lines', ok: (s) => lines(s, 'gzip on;', 'gzip_types text/css;'), bad: (s) => lines(s, 'gzip on;\nautoindex on;'), error: /^services\[0\]\.extraLocationLines\[0\]: "gzip on;\\nautoindex on;" contains a control character/ },
  { name: 'template syntax in extra lines', ok: (s) => lines(s, 'add_header X-Host $host;'), bad: (s) => lines(s, 'add_header X {{ 7*7 }};'), error: /^services\[0\]\.extraLocationLines\[0\]: "add_header X \{\{ 7\*7 \}\};" contains template syntax "\{\{"/ },
  {
    name: 'template syntax in an SSH key',
    ok: (s) => (s.users[0].sshKeys = [`${key} me@laptop`]),
    bad: (s) => (s.users[0].sshKeys = [`${key} {{ lookup('pipe', 'id') }}`]),
    error: /^users\[0\]\.sshKeys\[0\]: "ssh-ed25519 [^"]*… contains template syntax "\{\{", which Ansible or Terraform would evaluate/,
  },
  { name: 'an SSH key that is only a prefix', ok: (s) => (s.users[0].sshKeys = [key]), bad: (s) => (s.users[0].sshKeys = ['ssh-rsa']), error: /^users\[0\]\.sshKeys\[0\]: "ssh-rsa" is not an SSH public key: after "ssh-rsa" comes the key in base64/ },
  { name: 'an SSH key with options', ok: (s) => (s.users[0].sshKeys = [`${key} a b`]), bad: (s) => (s.users[0].sshKeys = [`command="sh" ${key}`]), error: /^users\[0\]\.sshKeys\[0\]: "command=.*… is not an SSH public key/ },
  { name: 'an SSH key with a newline', ok: (s) => (s.users[0].sshKeys = [key, key.replace('ed25519 ', 'ed25519 ').replace('AAAAC', 'AAAAD')]), bad: (s) => (s.users[0].sshKeys = [`${key}\nssh-ed25519 AAAA`]), error: /^users\[0\]\.sshKeys\[0\]: .* contains a control character/ },
  { name: 'template syntax in tls.filesDir', ok: (s) => (s.stages.lab.tls = { mode: 'files', filesDir: '/srv/tls' }), bad: (s) => (s.stages.lab.tls = { mode: 'files', filesDir: "/srv/{{ lookup('pipe','id') }}" }), error: /^stages\.lab\.tls\.filesDir: .* contains template syntax/ },
  { name: 'tls.filesDir that is not a plain absolute path', ok: (s) => (s.stages.lab.tls = { mode: 'files', filesDir: '/srv/tls-files_1' }), bad: (s) => (s.stages.lab.tls = { mode: 'files', filesDir: '/srv/../etc' }), error: /^stages\.lab\.tls\.filesDir: "\/srv\/\.\.\/etc" is not an absolute path of letters/ },
  { name: 'template syntax in tls.acmeDirectory', ok: (s) => (s.stages.lab.tls = { mode: 'acme', acmeDirectory: 'https://acme.example/dir' }), bad: (s) => (s.stages.lab.tls = { mode: 'acme', acmeDirectory: 'https://acme.example/{{ x }}' }), error: /^stages\.lab\.tls\.acmeDirectory: .* contains template syntax "\{\{"/ },
  { name: 'an ACME directory that is not https', ok: (s) => (s.stages.lab.tls = { mode: 'acme', acmeDirectory: 'https://127.0.0.1:14000/dir' }), bad: (s) => (s.stages.lab.tls = { mode: 'acme', acmeDirectory: 'file:///etc/shadow' }), error: /^stages\.lab\.tls\.acmeDirectory: "file:\/\/\/etc\/shadow" is not an https URL of an ACME directory/ },
  { name: 'Terraform template syntax in a datastore', ok: (s) => (s.stages.lab.datastores.hdd = 'tank-01'), bad: (s) => (s.stages.lab.datastores.hdd = '${file("/etc/shadow")}'), error: /^stages\.lab\.datastores\.hdd: .* contains template syntax "\$\{"/ },
];

const high: Case[] = [
  {
    name: 'a schema prefix that does not fit with the longest stack name',
    ok: (s) => (s.stages.lab.state = { backend: 'pg', schemaPrefix: 'abcdefghijklmnopqrstuvwxyz01234' }),
    bad: (s) => {
      s.stages.lab.state = { backend: 'pg', schemaPrefix: 'abcdefghijklmnopqrstuvwxyz01234' };
      host(s, 'lab-whoami').name = 'lab-whoami-with-a-much-longer-name';
      service(s, 'whoami-lab').upstream.host = 'lab-whoami-with-a-much-longer-name';
    },
    error: /^stages\.lab\.state\.schemaPrefix: "abcdefghijklmnopqrstuvwxyz01234" with stack lab-whoami-with-a-much-longer-name-vm makes a 68-byte schema name; PostgreSQL keeps 63/,
  },
];

const medium: Case[] = [
  { name: 'a data disk on /etc', ok: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/srv/ansible'), bad: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/etc'), error: /^hosts\[4\]\.dataDisks\[0\]\.mountpoint: "\/etc" is a system directory/ },
  { name: 'a data disk inside /usr', ok: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/var/lib/ansible-2'), bad: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/usr/local/bin'), error: /^hosts\[4\]\.dataDisks\[0\]\.mountpoint: "\/usr\/local\/bin" is inside the system's \/usr/ },
  { name: "a data disk over sshd's config", ok: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/etc/letsencrypt'), bad: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/etc/ssh'), error: /^hosts\[4\]\.dataDisks\[0\]\.mountpoint: "\/etc\/ssh" is inside the system's \/etc\/ssh/ },
  { name: 'a mountpoint with .. or a pattern', ok: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/srv/a.b'), bad: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/srv/../etc'), error: /^hosts\[4\]\.dataDisks\[0\]\.mountpoint: "\/srv\/\.\.\/etc" is not an absolute path of letters/ },
  { name: 'a glob in a mountpoint', ok: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/srv/data'), bad: (s) => (host(s, 'lab-ansible').dataDisks[0].mountpoint = '/srv/*'), error: /^hosts\[4\]\.dataDisks\[0\]\.mountpoint: "\/srv\/\*" is not an absolute path/ },
  { name: 'a forward beyond loopback', ok: (s) => (s.stages.prod.forward.address = '127.0.0.2'), bad: (s) => (s.stages.prod.forward.address = '0.0.0.0'), error: /^stages\.prod\.forward\.address: "0\.0\.0\.0" is not a loopback address \(127\.0\.0\.0\/8\); set forward\.beyondLoopback: true/ },
  { name: 'a forward beyond loopback, named', ok: (s) => (s.stages.prod.forward = { address: '192.168.1.5', beyondLoopback: true }), bad: (s) => (s.stages.prod.forward = { address: '192.168.1.5' }), error: /^stages\.prod\.forward\.address: "192\.168\.1\.5" is not a loopback address/ },
  { name: 'a Proxmox endpoint over http', ok: (s) => (s.stages.lab.proxmox.endpoint = 'https://10.0.0.2:8006'), bad: (s) => (s.stages.lab.proxmox.endpoint = 'http://pve.pegasuspad.com:8006/'), error: /^stages\.lab\.proxmox\.endpoint: "http:\/\/pve\.pegasuspad\.com:8006\/" is not an https URL of the API/ },
  { name: 'a lab upstream outside lab', ok: (s) => (service(s, 'whoami-lab').upstream = { address: '10.111.2.99', port: 80 }), bad: (s) => (service(s, 'whoami-lab').upstream = { address: '192.168.7.9', port: 80 }), error: /^services\[1\]\.upstream\.address: 192\.168\.7\.9 is outside lab's network 10\.111\.2\.0\/24; lab upstreams stay in lab/ },
  { name: 'a lab upstream on a prod host', ok: (s) => (service(s, 'whoami-lab').upstream = { address: '10.111.2.20', port: 80 }), bad: (s) => (service(s, 'whoami-lab').upstream = { address: '10.111.1.20', port: 80 }), error: /^services\[1\]\.upstream\.address: 10\.111\.1\.20 is host prod-whoami of stage prod, the service is in lab/ },
  { name: 'a prod upstream in lab', ok: (s) => (service(s, 'whoami').upstream = { address: '192.168.7.9', port: 80 }), bad: (s) => (service(s, 'whoami').upstream = { address: '10.111.2.99', port: 80 }), error: /^services\[0\]\.upstream\.address: 10\.111\.2\.99 is in lab's network 10\.111\.2\.0\/24; a prod service never depends on lab/ },
  { name: 'an upstream on a proxy', ok: (s) => (service(s, 'whoami').upstream = { address: '10.111.1.21', port: 80 }), bad: (s) => (service(s, 'whoami').upstream = { address: '10.111.1.11', port: 443 }), error: /^services\[0\]\.upstream\.address: 10\.111\.1\.11 is the proxy prod-proxy; an upstream is an application/ },
  { name: 'an upstream host that is a proxy', ok: (s) => (service(s, 'whoami').upstream.host = 'prod-ansible'), bad: (s) => (service(s, 'whoami').upstream.host = 'prod-proxy-passthrough'), error: /^services\[0\]\.upstream\.host: host "prod-proxy-passthrough" is a proxy of the site/ },
  { name: 'a link-local upstream', ok: (s) => (service(s, 'whoami').upstream = { address: '172.16.0.9', port: 80 }), bad: (s) => (service(s, 'whoami').upstream = { address: '169.254.169.254', port: 80 }), error: /^services\[0\]\.upstream\.address: 169\.254\.169\.254 is a link-local address/ },
  { name: 'a loopback upstream', ok: (s) => (service(s, 'whoami').upstream = { address: '10.111.1.99', port: 80 }), bad: (s) => (service(s, 'whoami').upstream = { address: '127.0.0.1', port: 80 }), error: /^services\[0\]\.upstream\.address: 127\.0\.0\.1 is a loopback address/ },
];

const long = (length: number) => `${'a'.repeat(length - '.pegasuspad.com'.length)}.pegasuspad.com`;
const low: Case[] = [
  { name: 'a service name too long for a file name', ok: (s) => (service(s, 'whoami').name = 'w'.repeat(63)), bad: (s) => (service(s, 'whoami').name = 'w'.repeat(64)), error: /^services\[0\]\.name: "w{58}… is not a valid service name \(lowercase, digits, dashes; at most 63\)/ },
  {
    name: 'a certificate named by a hostname too long for a file name',
    ok: (s) => (service(s, 'whoami').hostnames = [`${'a'.repeat(60)}.${'b'.repeat(50)}.pegasuspad.com`]),
    bad: (s) => (service(s, 'whoami').hostnames = [`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(20)}.pegasuspad.com`]),
    error: /^services\[0\]\.hostnames\[0\]: names the service's certificate and is longer than 128 characters; set a shorter "certificate"/,
  },
  { name: 'a certificate name too long', ok: (s) => (service(s, 'whoami').certificate = 'c'.repeat(128)), bad: (s) => (service(s, 'whoami').certificate = 'c'.repeat(129)), error: /^services\[0\]\.certificate: "c{58}… is not a certificate name/ },
  { name: "a host named like another's data VM", ok: (s) => (host(s, 'lab-whoami').name = 'lab-ansible-2', service(s, 'whoami-lab').upstream.host = 'lab-ansible-2'), bad: (s) => { host(s, 'lab-whoami').name = 'lab-ansible-data'; service(s, 'whoami-lab').upstream.host = 'lab-ansible-data'; }, error: /^hosts\[7\]\.name: "lab-ansible-data" is the name of host lab-ansible's data VM/ },
  { name: 'a one-label domain', ok: (s) => (s.domain = 'include.example', s.services = []), bad: (s) => (s.domain = 'include', s.services = []), error: /^domain: "include" is not a domain of two or more labels/ },
  { name: 'a huge body size', ok: (s) => (service(s, 'whoami').maxBodySize = '1024g'), bad: (s) => (service(s, 'whoami').maxBodySize = '99999999g'), error: /^services\[0\]\.maxBodySize: "99999999g" is more than 1024g/ },
  { name: 'a host on the gateway', ok: (s) => (s.stages.lab.network.gateway = '10.111.2.2'), bad: (s) => (s.stages.lab.network.gateway = '10.111.2.20'), error: /^hosts\[7\]\.suffix: 10\.111\.2\.20 is the lab gateway's address/ },
  { name: 'a gateway outside its subnet', ok: (s) => (s.stages.lab.network.gateway = '10.111.2.254'), bad: (s) => (s.stages.lab.network.gateway = '10.111.9.1'), error: /^stages\.lab\.network\.gateway: gateway 10\.111\.9\.1 is outside the stage network 10\.111\.2\.0\/24/ },
  { name: 'a public subnet', ok: (s) => (s.stages.lab.network = { cidr: '192.168.50.0/24' }), bad: (s) => (s.stages.lab.network = { cidr: '8.8.8.0/24' }), error: /^stages\.lab\.network\.cidr: "8\.8\.8\.0\/24" is not a private network/ },
  { name: 'a multicast MAC', ok: (s) => (host(s, 'lab-whoami').mac = '02:00:5e:00:00:01'), bad: (s) => (host(s, 'lab-whoami').mac = '01:00:5e:00:00:01'), error: /^hosts\[7\]\.mac: "01:00:5e:00:00:01" is not a unicast MAC address/ },
  { name: 'duplicate users', ok: (s) => s.users.push({ name: 'pegasus2', sshKeys: [] }), bad: (s) => s.users.push({ name: 'pegasus', sshKeys: [] }), error: /^users\[1\]\.name: duplicate user "pegasus" \(also users\[0\]\)/ },
  { name: 'a system account as a user', ok: (s) => s.users.push({ name: 'ops' }), bad: (s) => s.users.push({ name: 'root' }), error: /^users\[1\]\.name: "root" is a system account of the VMs/ },
  { name: 'a bad image key', ok: (s) => (s.images['debian-12.1'] = s.images['debian-12']), bad: (s) => (s.images['Debian {x}'] = s.images['debian-12']), error: /^images\.Debian \{x\}: "Debian \{x\}" is not an image key/ },
];

describe.each([
  ['critical', critical],
  ['high', high],
  ['medium', medium],
  ['low', low],
] as const)('%s', (_, cases) => {
  describe.each(cases)('$name', ({ ok, bad, error }) => {
    it('passes the harmless variant', () => expect(errorsOf(ok)).toEqual([]));
    it('is refused with one line naming file:line:col and the field', () => {
      const errors = errorsOf(bad);
      expect(errors).toHaveLength(1);
      const [, where, rest] = /^(.*?site-\d+\.yaml:\d+:\d+): (.*)$/s.exec(errors[0]!) ?? [];
      expect(where).toBeDefined();
      expect(rest).toMatch(error);
    });
  });
});

describe('values no one should see whole', () => {
  // A larger one makes the whole file too large to read (hostile-source.test.ts).
  it('a 500 kB value is refused in one short line', () => {
    const errors = errorsOf((s) => (service(s, 'whoami').hostnames = ['x'.repeat(500 * 1024)]));
    expect(errors).toEqual([expect.stringMatching(/site-\d+\.yaml:\d+:\d+: services\[0\]\.hostnames\[0\]: is 512000 characters long; at most 8192$/)]);
  });

  it('a long bad value is echoed cut to 60 characters', () => {
    const [error] = errorsOf((s) => (host(s, 'lab-whoami').mac = `zz:${'0'.repeat(500)}`));
    expect(error!.length).toBeLessThan(200);
    expect(error).toMatch(/hosts\[7\]\.mac: "zz:0{55}… is not a MAC address/);
  });

  it('a long unknown key is named cut, not whole', () => {
    const [error, ...more] = errorsOf((s) => (service(s, 'whoami')[`k${'y'.repeat(5000)}`] = 1));
    expect(more).toEqual([]);
    // The key is part of the path shown, so the whole line is what is cut.
    expect(error).toMatch(/site-\d+\.yaml:\d+:\d+: services\[0\]\.ky+…$/);
    expect(error!.replace(/^.*?site-\d+\.yaml:\d+:\d+: /, '')).toHaveLength(300);
  });

  it('a long value of the wrong type is echoed cut, and no line exceeds the bound', () => {
    const [error, ...more] = errorsOf((s) => (host(s, 'lab-whoami').memory = 'm'.repeat(5000)));
    expect(more).toEqual([]);
    expect(error).toMatch(/hosts\[7\]\.memory: expected number, got "m{58}…$/);
    const [bomb] = errorsOf((s) => (host(s, 'lab-whoami').memory = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`key${i}`, 'v'.repeat(50)]))));
    expect(bomb!.replace(/^.*?site-\d+\.yaml:\d+:\d+: /, '').length).toBeLessThanOrEqual(300);
  });

  it('one bad stage network gives one error, not one per host of the stage', () => {
    expect(errorsOf((s) => (s.stages.lab.network.cidr = '10.111.2.0/16'))).toEqual([expect.stringMatching(/stages\.lab\.network\.cidr: "10\.111\.2\.0\/16" is not a \/24 network/)]);
  });
});
