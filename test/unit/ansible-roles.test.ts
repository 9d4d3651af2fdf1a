// The roles as Ansible itself sees them: ansible-lint at the production profile, and a syntax
// check of site.yml against the inventory render writes for the Pegasus site.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { ANSIBLE_DIR } from '../../tasks/lib/configure/bundle';
import { loadSite } from '../../tasks/lib/model/index';
import { outputsFromModel, render } from '../../tasks/lib/render/index';

const tmp = mkdtempSync(join(tmpdir(), 'homeprod-ansible-roles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ansible roles', () => {
  it('pass ansible-lint at the production profile', async () => {
    const result = await $({ cwd: ANSIBLE_DIR, nothrow: true, quiet: true, env: { ...process.env, NO_COLOR: '1', ANSIBLE_LOCAL_TEMP: tmp } })`ansible-lint --offline --profile production --nocolor`;
    expect(`${result.stdout}${result.stderr}`).toContain('Passed with production profile');
    expect(result.exitCode).toBe(0);
  }, 180_000);

  it('pass a syntax check of site.yml against each stage rendered inventory', async () => {
    const site = loadSite();
    for (const stage of ['lab', 'prod'] as const) {
      const out = join(tmp, stage);
      render(site, stage, outputsFromModel(site), { outDir: out });
      const result = await $({ cwd: ANSIBLE_DIR, nothrow: true, quiet: true })`ansible-playbook -i ${join(out, 'inventory', 'hosts.yml')} site.yml --syntax-check`;
      expect(`${stage}: ${result.stderr}`).toBe(`${stage}: `);
      expect(result.exitCode).toBe(0);
    }
  }, 60_000);

  it('use only ansible.builtin modules (the control node has no collections)', async () => {
    const files = (await $({ cwd: ANSIBLE_DIR, quiet: true })`find roles playbooks site.yml -name ${'*.yml'}`).stdout.trim().split('\n');
    const modules = new Set<string>();
    for (const file of files) {
      for (const line of readFileSync(join(ANSIBLE_DIR, file), 'utf8').split('\n')) {
        const match = /^\s*-?\s*([a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+):/.exec(line);
        if (match) modules.add(match[1]!);
      }
    }
    expect([...modules].filter((m) => !m.startsWith('ansible.builtin.'))).toEqual([]);
    expect(modules.size).toBeGreaterThan(10);
  });
});
