// Generated inventories and vars files are data to Ansible, never templates: a value holding
// Jinja2 that ran through real Ansible stays text, where the same file written as plain YAML
// would run its command.
import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { $ } from 'zx';
import { loadSite } from '../../tasks/lib/model/index';
import { renderInventory } from '../../tasks/lib/render/inventory';
import { outputsFromModel } from '../../tasks/lib/render/index';
import { parseAnsibleYaml, stringifyAnsibleYaml } from '../../tasks/lib/shared/ansible-yaml';

const tmp = mkdtempSync(join(tmpdir(), 'homeprod-unsafe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function runAnsible(write: (value: unknown) => string, name: string): Promise<{ output: string; ran: boolean }> {
  const marker = join(tmp, `${name}.ran`);
  const payload = `{{ lookup('ansible.builtin.pipe', 'touch ${marker}') }}`;
  const inventory = join(tmp, `${name}-hosts.yml`);
  const vars = join(tmp, `${name}-vars.yml`);
  writeFileSync(inventory, write({ all: { hosts: { here: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3', homeprod_from_inventory: payload } } } }));
  writeFileSync(vars, write({ homeprod_from_vars: [payload] }));
  const result = await $({ nothrow: true, quiet: true, env: { ...process.env, ANSIBLE_LOCAL_TEMP: join(tmp, 'ansible'), ANSIBLE_INVENTORY_ENABLED: 'yaml', NO_COLOR: '1' } })`ansible here -i ${inventory} -e @${vars} -m ansible.builtin.debug -a ${'msg={{ homeprod_from_inventory }} {{ homeprod_from_vars }}'}`;
  expect(`${result.stderr}`.split('\n').filter((l) => /ERROR/.test(l))).toEqual([]);
  return { output: result.stdout, ran: existsSync(marker) };
}

describe('YAML written for Ansible', () => {
  it('keeps template syntax in values as text, through real Ansible', async () => {
    const { output, ran } = await runAnsible(stringifyAnsibleYaml, 'unsafe');
    expect(ran).toBe(false);
    expect(output).toContain("lookup('ansible.builtin.pipe', 'touch ");
  }, 60_000);

  it('(the same files as plain YAML would run the command: the test can fail)', async () => {
    const { ran } = await runAnsible((v) => stringify(v), 'plain');
    expect(ran).toBe(true);
  }, 60_000);

  it('marks every string value of the inventory, and reads back as written', () => {
    const site = loadSite();
    const text = renderInventory(site, 'prod', outputsFromModel(site));
    expect(text).toMatch(/ansible_host: !unsafe 10\.111\.1\.10/);
    expect(text).toMatch(/homeprod_domain: !unsafe pegasuspad\.com/);
    expect(text.split('\n').filter((l) => /: [^!\s]/.test(l) && /: [A-Za-z/"']/.test(l) && !/: (true|false|null)$/.test(l) && !l.trimStart().startsWith('#'))).toEqual([]);
    expect(parseAnsibleYaml(text)).toMatchObject({ all: { vars: { homeprod_stage: 'prod', homeprod_domain: 'pegasuspad.com' } } });
  });
});
