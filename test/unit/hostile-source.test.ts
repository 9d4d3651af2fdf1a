// Site files written to attack the reading of the site itself: imports that reach outside the
// site's folder or into a FIFO or device, files too large to read, YAML alias bombs, imports that
// silently replace a definition, and values so long their error would flood the terminal. Each
// ends in one error line naming file:line:col, and nothing of a refused file is echoed.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { validateSite } from '../../tasks/lib/model';
import { MAX_SITE_FILE_BYTES } from '../../tasks/lib/model/source';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pegasusText = readFileSync('inventory/site.yaml', 'utf8');
const pegasus = (): Raw => parse(pegasusText);
const root = mkdtempSync(join(tmpdir(), 'homeprod-hostile-source-'));
let n = 0;

/** A fresh site folder holding `files`; returns the folder. */
function folderWith(files: Record<string, string> = {}): string {
  const folder = join(root, `site-${n++}`);
  mkdirSync(folder);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(folder, name, '..'), { recursive: true });
    writeFileSync(join(folder, name), text);
  }
  return folder;
}

/** The Pegasus site followed by an `imports:` list at its end: its error lines, and where imports[i] sits. */
function importing(folder: string, imports: string[]): { errors: string[]; entry: (i: number) => string } {
  const body = stringify(pegasus(), { lineWidth: 0 });
  const file = join(folder, 'site.yaml');
  writeFileSync(file, `${body}imports:\n${imports.map((i) => `  - ${JSON.stringify(i)}\n`).join('')}`);
  const first = body.split('\n').length + 1; // the line after "imports:"
  const shown = relative(process.cwd(), file);
  return { errors: validateSite(file).errors, entry: (i) => `${shown}:${first + i}:5: imports[${i}]: ` };
}

const hostsFile = 'hosts:\n  - name: lab-extra\n    stage: lab\n    suffix: 30\n    roles: [application]\n';
const secret = 'password: SECRET-hunter2\n';

describe('imports read only regular files under the site file’s folder', () => {
  it('takes a relative import, also through a symlink that stays in the folder', () => {
    const folder = folderWith({ 'more/hosts.yaml': hostsFile });
    symlinkSync('more/hosts.yaml', join(folder, 'link.yaml'));
    expect(importing(folder, ['more/hosts.yaml']).errors).toEqual([]);
    expect(importing(folder, ['link.yaml']).errors).toEqual([]);
  });

  it('refuses an absolute path, naming the entry and never the content', () => {
    const outside = folderWith({ 'secret.yaml': secret });
    const { errors, entry } = importing(folderWith(), [join(outside, 'secret.yaml')]);
    expect(errors).toEqual([`${entry(0)}cannot import ${JSON.stringify(join(outside, 'secret.yaml'))}: an absolute path; an import is relative to the site file's folder`]);
  });

  it('refuses /etc/shadow without reading it', () => {
    const { errors, entry } = importing(folderWith(), ['/etc/shadow']);
    expect(errors).toEqual([`${entry(0)}cannot import "/etc/shadow": an absolute path; an import is relative to the site file's folder`]);
  });

  it('refuses a path with "..", even one that comes back into the folder', () => {
    const folder = folderWith({ 'hosts.yaml': hostsFile });
    const { errors, entry } = importing(folder, ['../secret.yaml', `../${folder.split('/').pop()}/hosts.yaml`]);
    expect(errors).toEqual([
      `${entry(0)}cannot import "../secret.yaml": it contains ".."; an import lies under the site file's folder`,
      `${entry(1)}cannot import ${JSON.stringify(`../${folder.split('/').pop()}/hosts.yaml`)}: it contains ".."; an import lies under the site file's folder`,
    ]);
  });

  it('refuses a symlink that leads out of the folder', () => {
    const outside = folderWith({ 'secret.yaml': secret });
    const folder = folderWith();
    symlinkSync(join(outside, 'secret.yaml'), join(folder, 'innocent.yaml'));
    symlinkSync('/dev/zero', join(folder, 'zero.yaml'));
    const { errors, entry } = importing(folder, ['innocent.yaml', 'zero.yaml']);
    expect(errors).toEqual([
      `${entry(0)}cannot import "innocent.yaml": it leads outside the site file's folder (to ${JSON.stringify(join(outside, 'secret.yaml'))})`,
      `${entry(1)}cannot import "zero.yaml": it leads outside the site file's folder (to "/dev/zero")`,
    ]);
    expect(errors.join('\n')).not.toContain('SECRET');
  });

  it('refuses a directory, a device and a missing file', () => {
    const folder = folderWith({ 'dir/hosts.yaml': hostsFile });
    // A device node inside the folder (mknod needs root, as the e2e suites do); it is never opened.
    execFileSync('mknod', [join(folder, 'zero'), 'c', '1', '5']);
    const { errors, entry } = importing(folder, ['dir', 'zero', 'missing.yaml']);
    expect(errors).toEqual([
      `${entry(0)}cannot import "dir": it is a directory, not a regular file`,
      `${entry(1)}cannot import "zero": it is a device, not a regular file`,
      `${entry(2)}cannot import "missing.yaml": ENOENT`,
    ]);
  });

  describe('a FIFO', () => {
    let writer: ReturnType<typeof spawn> | undefined;
    afterAll(() => {
      writer?.kill();
    });

    it('is refused at once, without waiting for a writer', () => {
      const folder = folderWith();
      execFileSync('mkfifo', [join(folder, 'pipe.yaml')]);
      // Had the FIFO been opened, reading would block until this writer ends (5 s) and then find
      // no mapping; refused by its kind, the writer is left waiting for a reader and killed.
      writer = spawn('sh', ['-c', 'sleep 5; : > pipe.yaml'], { cwd: folder, stdio: 'ignore' });
      const started = Date.now();
      const { errors, entry } = importing(folder, ['pipe.yaml']);
      expect(errors).toEqual([`${entry(0)}cannot import "pipe.yaml": it is a FIFO, not a regular file`]);
      expect(Date.now() - started).toBeLessThan(4000);
    });
  });
});

describe('every site file is at most MAX_SITE_FILE_BYTES', () => {
  it('refuses a 50 MB main file in one line, before reading it', () => {
    const folder = folderWith();
    const file = join(folder, 'site.yaml');
    writeFileSync(file, `${pegasusText}\nnotes: "${'x'.repeat(50 * 1024 * 1024)}"\n`);
    const { errors } = validateSite(file);
    const size = readFileSync(file).length;
    expect(errors).toEqual([`${relative(process.cwd(), file)}:1:1: cannot read ${file}: it is ${size} bytes; a site file is at most 1048576 bytes (1 MiB)`]);
  });

  it('refuses an import over the bound, and takes one just under it', () => {
    const padding = (bytes: number) => `${hostsFile}# ${'x'.repeat(bytes - hostsFile.length - 3)}\n`;
    const folder = folderWith({ 'big.yaml': padding(MAX_SITE_FILE_BYTES + 1), 'fits.yaml': padding(MAX_SITE_FILE_BYTES) });
    expect(importing(folder, ['fits.yaml']).errors).toEqual([]);
    const { errors, entry } = importing(folder, ['big.yaml']);
    expect(errors).toEqual([`${entry(0)}cannot import "big.yaml": it is ${MAX_SITE_FILE_BYTES + 1} bytes; a site file is at most 1048576 bytes (1 MiB)`]);
  });
});

describe('YAML aliases', () => {
  // Ten anchors, each a list of ten aliases of the one before: 10^9 strings once expanded.
  const bomb = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`)].join('\n');

  it('that expand too far (billion laughs) end in one line at the first alias', () => {
    const folder = folderWith();
    const file = join(folder, 'site.yaml');
    writeFileSync(file, `${bomb}\n${pegasusText}`);
    expect(validateSite(file).errors).toEqual([`${relative(process.cwd(), file)}:2:10: YAML aliases expand too far (over 1000 uses of an anchor's nodes); is this an alias bomb?`]);
  });

  it('that expand too far in an import end in one line in that file', () => {
    const folder = folderWith({ 'bomb.yaml': `hosts:\n  - ${bomb.replace(/\n/g, '\n    ')}\n` });
    expect(importing(folder, ['bomb.yaml']).errors).toEqual([`${relative(process.cwd(), join(folder, 'bomb.yaml'))}:3:14: YAML aliases expand too far (over 1000 uses of an anchor's nodes); is this an alias bomb?`]);
  });

  it('used a few hundred times for shared values are fine', () => {
    const hosts = Array.from({ length: 150 }, (_, i) => `  - { name: lab-extra-${i}, stage: lab, suffix: ${30 + i}, roles: ${i === 0 ? '&roles [application]' : '*roles'} }`);
    const folder = folderWith({ 'hosts.yaml': `hosts:\n${hosts.join('\n')}\n` });
    expect(importing(folder, ['hosts.yaml']).errors).toEqual([]);
  });
});

describe('nothing is defined twice', () => {
  const image = (name: string) => `images:\n  ${name}:\n    url: https://example.com/${name}.qcow2\n    sha256: "${'1'.repeat(64)}"\n    fileName: ${name}.img\n`;
  const siteShown = (folder: string) => relative(process.cwd(), join(folder, 'site.yaml'));
  const at = (folder: string, file: string) => relative(process.cwd(), join(folder, file));

  it('imports each file once, and never the site file itself', () => {
    const folder = folderWith({ 'hosts.yaml': hostsFile });
    symlinkSync('hosts.yaml', join(folder, 'again.yaml'));
    const { errors, entry } = importing(folder, ['hosts.yaml', './hosts.yaml', 'again.yaml', 'site.yaml']);
    expect(errors).toEqual([
      `${entry(1)}cannot import "./hosts.yaml": it is the same file as imports[0]`,
      `${entry(2)}cannot import "again.yaml": it is the same file as imports[0]`,
      `${entry(3)}cannot import "site.yaml": it is the site file itself`,
    ]);
  });

  it('refuses an image of the site file defined again in an import, naming both places', () => {
    const folder = folderWith({ 'images.yaml': image('debian-12') });
    const line = stringify(pegasus(), { lineWidth: 0 }).split('\n').indexOf('  debian-12:') + 1;
    expect(importing(folder, ['images.yaml']).errors).toEqual([`${at(folder, 'images.yaml')}:2:3: images.debian-12: image "debian-12" is also defined at ${siteShown(folder)}:${line}:3; define each image once`]);
  });

  it('refuses an image defined in two imports, and takes images of their own', () => {
    const folder = folderWith({ 'a.yaml': image('debian-13'), 'b.yaml': image('debian-13'), 'c.yaml': image('ubuntu-24') });
    expect(importing(folder, ['a.yaml', 'c.yaml']).errors).toEqual([]);
    expect(importing(folder, ['a.yaml', 'b.yaml']).errors).toEqual([`${at(folder, 'b.yaml')}:2:3: images.debian-13: image "debian-13" is also defined at ${at(folder, 'a.yaml')}:2:3; define each image once`]);
  });

  it('keeps the site file’s own wrong-typed images and hosts for the schema to report, not replaced or crashed on', () => {
    const folder = folderWith({ 'more.yaml': `${image('debian-13')}${hostsFile}` });
    const body = stringify({ ...pegasus(), images: 'none', hosts: 'none' }, { lineWidth: 0 });
    const file = join(folder, 'site.yaml');
    writeFileSync(file, `${body}imports: [more.yaml]\n`);
    const errors = validateSite(file).errors;
    expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(/site\.yaml:\d+:\d+: images: expected record, got "none"$/), expect.stringMatching(/site\.yaml:\d+:\d+: hosts: expected array, got "none"$/)]));
  });
});
