// The local platform's pure parts: spec validation (field named on error), names within the
// kernel's limits, mirror discovery, the nspawn command line.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomeprodError } from '../../tasks/lib/ui/errors';
import { localConfig, names } from '../../tasks/lib/platform/local/config';
import { debianMirror, imageKey, IMAGE_RECIPE } from '../../tasks/lib/platform/local/image';
import { nspawnArgs } from '../../tasks/lib/platform/local/machine';
import { ensureKernelLimits } from '../../tasks/lib/platform/local/preflight';
import type { LocalVmSpec } from '../../tasks/lib/platform/local/spec';
import { diskSpecFromEnv, vmSpecFromEnv } from '../../tasks/lib/platform/local/validate';

const spec: LocalVmSpec = {
  name: 'lab-ansible',
  stage: 'lab',
  roles: ['control-node'],
  vmid: 5003,
  mac: '02:00:00:00:50:03',
  ipv4: '10.111.2.12',
  prefixLength: 24,
  gateway: '10.111.2.1',
  cidr: '10.111.2.0/24',
  dnsSearch: 'lab.example.com',
  dataDisks: [{ owner: 'lab-ansible-data', label: 'ansible', mountpoint: '/srv/ansible', readOnly: false, interface: 'scsi1' }],
  authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPnNU65c+16ALPFGvZw1K2zzOVzIL6xSZMMM9wB3vuzq op@ws'],
};

function thrown(fn: () => unknown): HomeprodError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HomeprodError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('spec validation', () => {
  test('a valid spec parses, and a null forward (Terraform) means none', () => {
    expect(vmSpecFromEnv({ HOMEPROD_VM: JSON.stringify(spec) })).toEqual(spec);
    expect(vmSpecFromEnv({ HOMEPROD_VM: JSON.stringify({ ...spec, forward: null }) }).forward).toBeUndefined();
  });

  test('errors name the exact field', () => {
    const bad = { ...spec, ipv4: '10.111.2.300', dataDisks: [{ ...spec.dataDisks[0], mountpoint: 'srv' }] };
    const e = thrown(() => vmSpecFromEnv({ HOMEPROD_VM: JSON.stringify(bad) }));
    expect(e.details.join('\n')).toMatch(/^HOMEPROD_VM\.ipv4: /m);
    expect(e.details.join('\n')).toMatch(/^HOMEPROD_VM\.dataDisks\[0\]\.mountpoint: must be an absolute path/m);
  });

  test('missing or broken JSON says which variable', () => {
    expect(thrown(() => vmSpecFromEnv({})).message).toContain('HOMEPROD_VM is not set');
    expect(thrown(() => diskSpecFromEnv({ HOMEPROD_DISK: '{' })).message).toContain('HOMEPROD_DISK is not valid JSON');
  });

  test('unknown fields are refused, not ignored', () => {
    const e = thrown(() => vmSpecFromEnv({ HOMEPROD_VM: JSON.stringify({ ...spec, ipv6: '::1' }) }));
    expect(e.details.join('\n')).toContain('ipv6');
  });
});

describe('names', () => {
  test('the prefix is checked, since every name derives from it', () => {
    expect(localConfig({ HOMEPROD_NS_PREFIX: 'hpe2e' }).nsPrefix).toBe('hpe2e');
    expect(() => localConfig({ HOMEPROD_NS_PREFIX: 'hp-x' })).toThrow(/HOMEPROD_NS_PREFIX/);
    expect(() => localConfig({ HOMEPROD_NS_PREFIX: 'averylongprefix' })).toThrow(/HOMEPROD_NS_PREFIX/);
  });

  test('link names fit the 15-character limit and temporary ones are per prefix', () => {
    const a = names({ nsPrefix: 'hp' });
    const b = names({ nsPrefix: 'hpe2e' });
    expect(a.tmpLink().length).toBeLessThanOrEqual(15);
    expect(a.tmpLink()).not.toBe(a.tmpLink());
    expect(a.routerPort(999_999_999).length).toBeLessThanOrEqual(15);
    expect(a.tmpLinkPrefix).not.toBe(b.tmpLinkPrefix);
  });
});

describe('image', () => {
  test('the mirror comes from apt sources (deb822 and one-line), env first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'apt-'));
    mkdirSync(join(dir, 'sources.list.d'));
    writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), 'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n');
    expect(debianMirror({}, dir)).toBe('http://mirror.example/debian');
    writeFileSync(join(dir, 'sources.list'), '# x\ndeb [arch=amd64] http://one.example/debian bookworm main\n');
    expect(debianMirror({}, dir)).toBe('http://one.example/debian');
    expect(debianMirror({ HOMEPROD_DEBIAN_MIRROR: 'http://env.example/d' }, dir)).toBe('http://env.example/d');
  });

  test('the cache key follows the recipe', () => {
    expect(imageKey()).toMatch(/^[0-9a-f]{16}$/);
    expect(imageKey({ ...IMAGE_RECIPE, packages: [...IMAGE_RECIPE.packages, 'jq'] as never })).not.toBe(imageKey());
  });
});

test('kernel limits below the minimum are raised, and said so; higher ones are left alone', () => {
  const sys = mkdtempSync(join(tmpdir(), 'procsys-'));
  mkdirSync(join(sys, 'fs', 'inotify'), { recursive: true });
  writeFileSync(join(sys, 'fs/inotify/max_user_instances'), '128\n');
  writeFileSync(join(sys, 'fs/inotify/max_user_watches'), '1000000\n');
  const said: string[] = [];
  ensureKernelLimits((l) => said.push(l), sys);
  expect(readFileSync(join(sys, 'fs/inotify/max_user_instances'), 'utf8').trim()).toBe('8192');
  expect(readFileSync(join(sys, 'fs/inotify/max_user_watches'), 'utf8').trim()).toBe('1000000');
  expect(said).toEqual(['raised fs.inotify.max_user_instances from 128 to 8192 (every machine\'s systemd needs some)']);
});

test('nspawn boots over the image with the data disks bound from outside the layer', () => {
  const cfg = localConfig({ HOMEPROD_NS_PREFIX: 'hpu', HOMEPROD_STATE_DIR: '/tmp/st', HOMEPROD_CACHE_DIR: '/tmp/c' });
  const args = nspawnArgs(cfg, { ...spec, dataDisks: [...spec.dataDisks, { ...spec.dataDisks[0]!, label: 'keys', mountpoint: '/srv/keys', readOnly: true }] }, '/tmp/c/images/k/rootfs');
  expect(args).toEqual(expect.arrayContaining([
    '--boot', '--register=no', '--keep-unit',
    '--directory=/tmp/c/images/k/rootfs',
    '--overlay=+/:/tmp/st/vms/lab-ansible/upper:/',
    '--network-namespace-path=/run/netns/hpu-vm-lab-ansible',
    '--bind=/tmp/st/disks/lab-ansible-data/ansible:/srv/ansible',
    '--bind-ro=/tmp/st/disks/lab-ansible-data/keys:/srv/keys',
  ]));
});
