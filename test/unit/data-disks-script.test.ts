// The first-boot data disk script (templates/cloud-init/data-disks.sh.njk) treats a mountpoint
// as a string, never a pattern: its fstab rewrite, run from the rendered script with bash on a
// fake fstab in a temp dir, drops the line of /srv/a.b and no other (not /srv/aXb's).
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DISK_SCRIPT, dataDiskTask } from '../../stacks/cloud-init-render';
import { loadSite } from '../../tasks/lib/model/index';
import { GOLDEN_ROOT } from '../helpers/golden';

const dir = mkdtempSync(join(tmpdir(), 'homeprod-data-disks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const site = loadSite(join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml'));
const host = site.hosts.find((h) => h.dataDisks.length > 0)!;

/** The script as cloud-init writes it, for a host whose disks mount at these places. */
function script(mountpoints: string[]): string {
  const disks = mountpoints.map((mountpoint, i) => ({ ...host.dataDisks[0]!, label: `disk${i}`, mountpoint }));
  const file = dataDiskTask({ ...host, dataDisks: disks }).writeFiles?.find((f) => f.path === DATA_DISK_SCRIPT);
  if (!file) throw new Error('no data disk script rendered');
  return file.content;
}

/** Runs the rendered script's fstab rewrite on `fstab` (its function definitions only: the disk calls are left out). */
function fstabWithout(rendered: string, fstab: string, mountpoint: string): string {
  const definitions = join(dir, 'definitions.sh');
  writeFileSync(definitions, rendered.split('\n').filter((line) => !line.startsWith('prepare ')).join('\n'));
  const file = join(dir, 'fstab');
  writeFileSync(file, fstab);
  return execFileSync('bash', ['-c', 'source "$0"; fstab_without "$1" "$2"', definitions, file, mountpoint], { encoding: 'utf8' });
}

const FSTAB = [
  'UUID=11 / ext4 errors=remount-ro 0 1',
  'UUID=22 /srv/aXb ext4 defaults,nofail 0 2',
  'UUID=33 /srv/a.b ext4 defaults,nofail 0 2',
  '# /srv/a.b was on UUID=00',
  '\t# /srv/a.b too',
  'UUID=44 /srv/a.b/c ext4 defaults,nofail 0 2',
  'UUID=55\t/srv/a.b\text4\tro,nofail 0 2',
  'UUID=66 /srv/a+b ext4 defaults 0 2',
  'UUID=77 /srv/aab ext4 defaults 0 2',
  '',
].join('\n');

describe('data disk script', () => {
  const rendered = script(['/srv/a.b', '/srv/a+b']);

  it('drops exactly the fstab lines of its mountpoint, however it reads as a regular expression', () => {
    expect(fstabWithout(rendered, FSTAB, '/srv/a.b').split('\n')).toEqual([
      'UUID=11 / ext4 errors=remount-ro 0 1',
      'UUID=22 /srv/aXb ext4 defaults,nofail 0 2',
      '# /srv/a.b was on UUID=00',
      '\t# /srv/a.b too',
      'UUID=44 /srv/a.b/c ext4 defaults,nofail 0 2',
      'UUID=66 /srv/a+b ext4 defaults 0 2',
      'UUID=77 /srv/aab ext4 defaults 0 2',
      '',
    ]);
    expect(fstabWithout(rendered, FSTAB, '/srv/a+b')).toBe(FSTAB.replace('UUID=66 /srv/a+b ext4 defaults 0 2\n', ''));
    expect(fstabWithout(rendered, FSTAB, '/srv/a')).toBe(FSTAB);
  });

  it('matches a mountpoint with no grep, sed or glob', () => {
    expect(rendered).not.toMatch(/\bgrep\b|\bsed\b|=~|case .*\$mountpoint/);
    expect(rendered).toContain("prepare 'hp-disk0' 'disk0' '/srv/a.b' ");
  });
});
