// tasks/render.ts as people run it, and how verify finds the stage it checks.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomeprodError } from '../../tasks/lib/ui/errors';
import { loadSite } from '../../tasks/lib/model/index';
import { readOutputsFile } from '../../tasks/lib/render/index';
import { stageTarget } from '../../tasks/lib/verify';
import { GOLDEN_ROOT } from '../helpers/golden';

const ROOT = join(import.meta.dirname, '..', '..');
const SITE = join(GOLDEN_ROOT, 'render-pegasus', 'input', 'site.yaml');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'tasks', 'render.ts'), ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 60_000 });

describe('tasks/render.ts', () => {
  it('writes the stage tree from recorded outputs, the same as the golden files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeprod-render-cli-'));
    try {
      const result = run(['--stage', 'prod', '--out', join(dir, 'out'), '--site', SITE, '--outputs', join(FIXTURES, 'outputs-local.json')]);
      expect(result.status).toBe(0);
      for (const file of ['inventory/hosts.yml', 'hosts/prod-proxy-passthrough/nginx/homeprod/stream/passthrough.conf', 'hosts/prod-proxy/nginx/nginx.conf']) {
        expect(readFileSync(join(dir, 'out', file), 'utf8')).toBe(readFileSync(join(GOLDEN_ROOT, 'render-pegasus', 'expected', 'prod', file), 'utf8'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong and writes nothing on bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeprod-render-cli-'));
    try {
      expect(run(['--stage', 'qa', '--out', join(dir, 'out')])).toMatchObject({ status: 2, stderr: expect.stringContaining('--stage must be one of lab, prod, not "qa"') });
      expect(run(['--stage', 'lab'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--out DIR is required') });
      writeFileSync(join(dir, 'outputs.json'), JSON.stringify({ 'lab-proxy-vm': { host: { value: { name: 'lab-proxy' } } } }));
      const bad = run(['--stage', 'lab', '--out', join(dir, 'out'), '--site', SITE, '--outputs', join(dir, 'outputs.json')]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('lab-proxy-vm.host.value.ipv4');
      expect(existsSync(join(dir, 'out'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a non-empty DIR it did not write, touching nothing, and replaces its own render', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeprod-render-cli-'));
    try {
      writeFileSync(join(dir, 'site.yaml'), 'domain: mine.example\n');
      const refused = run(['--stage', 'prod', '--out', dir, '--site', SITE, '--outputs', join(FIXTURES, 'outputs-local.json')]);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(`${dir} holds files render did not write (no .homeprod-render)`);
      expect(readdirSync(dir)).toEqual(['site.yaml']);
      expect(readFileSync(join(dir, 'site.yaml'), 'utf8')).toBe('domain: mine.example\n');

      const out = join(dir, 'out');
      const args = ['--stage', 'prod', '--out', out, '--site', SITE, '--outputs', join(FIXTURES, 'outputs-local.json')];
      expect(run(args).status).toBe(0);
      writeFileSync(join(out, 'stale'), 'from before');
      expect(run(args).status).toBe(0);
      expect(existsSync(join(out, 'stale'))).toBe(false);
      expect(existsSync(join(out, '.homeprod-render'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents that addresses come from the model without --outputs', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Without --outputs the host addresses come from the site model');
  });
});

describe('verify target of a stage', () => {
  const site = loadSite(SITE);
  const outputs = readOutputsFile(join(FIXTURES, 'outputs-local.json'));

  it('connects through the loopback forward locally, trusts the stage CA, expects the router as client', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeprod-verify-target-'));
    try {
      writeFileSync(join(dir, 'lab-ca.pem'), '-----BEGIN CERTIFICATE-----\n');
      const target = stageTarget(site, 'lab', outputs, {}, join(dir, 'lab-ca.pem'));
      expect(target).toMatchObject({
        address: '127.0.0.1',
        port: 8443,
        expectedProxy: { lab: ['lab-proxy'] },
        expectedClient: '10.111.1.1',
        unknownNames: ['homeprod-verify-unknown.lab.pegasuspad.com'],
      });
      expect(target.services.map((s) => s.name)).toEqual(['whoami-lab']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('needs the passthrough up and the stage CA fetched', () => {
    expect(() => stageTarget(site, 'lab', outputs.filter((h) => h.stage === 'lab'), {}, '/nonexistent')).toThrow(/no passthrough host is up/);
    try {
      stageTarget(site, 'lab', outputs, {}, '/nonexistent/lab-ca.pem');
      throw new Error('accepted a missing CA');
    } catch (error) {
      expect(error).toBeInstanceOf(HomeprodError);
      expect((error as HomeprodError).message).toBe('cannot verify lab: no CA certificate at /nonexistent/lab-ca.pem');
    }
  });
});
