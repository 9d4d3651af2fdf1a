// The pg state backend against a real PostgreSQL: one schema per stack, applied through the
// same applySteps as the local backend, and the password only ever in the environment.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySteps, type ApplyContext, type ApplyOptions } from '../../tasks/lib/apply';
import { runSteps } from '../../tasks/lib/ui/listr';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { createTerraform, type Terraform } from '../../tasks/lib/apply/terraform';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { testHost, writeTestStack, type TestStack } from '../helpers/terraform-stacks';

const schemaOf = (stack: string) => `hpe2e_${stack.replace(/-/g, '_')}`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

describe('apply with the pg state backend', () => {
  let pg: Postgres | undefined;
  let root: string;
  let tf: Terraform;
  let site: Site;
  const stacks: TestStack[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'homeprod-apply-pg-'));
    pg = await startPostgres();
    tf = await createTerraform(join(root, 'state'), { env: pg.env });
    site = loadSite('inventory/site.yaml');
    const pgBackend = (name: string) => ({ pg: { schema_name: schemaOf(name) } });
    stacks.push(
      { name: 'lab-app-data-vm', kind: 'data', dependsOn: [], resources: { disk: { size: 1 } }, backend: pgBackend('lab-app-data-vm') },
      { name: 'lab-app-vm', kind: 'vm', dependsOn: ['lab-app-data-vm'], resources: { vm: { n: 1 } }, host: testHost('lab-app', '10.111.2.20', 5020), backend: pgBackend('lab-app-vm') },
      { name: 'lab-proxy-vm', kind: 'vm', dependsOn: [], resources: { vm: { n: 1 } }, host: testHost('lab-proxy', '10.111.2.11', 5011), backend: pgBackend('lab-proxy-vm') },
    );
  }, 120_000);

  afterAll(async () => {
    await pg?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  const apply = (opts: Partial<ApplyOptions> = {}) =>
    runSteps<ApplyContext>(
      applySteps({ stage: 'lab', site, terraform: tf, yes: true, synthesize: () => ({ outdir: join(root, 'out'), stacks: stacks.map((s) => writeTestStack(join(root, 'out'), s)) }), ...opts }),
      {},
      { silent: true },
    );

  it('keeps each stack\'s state in its own schema', async () => {
    const ctx = await apply();
    expect(ctx.applied?.lab?.changed).toBe(true);
    expect(ctx.applied?.lab?.outputs.map((o) => o.name)).toEqual(['lab-app', 'lab-proxy']);
    const schemas = (await pg!.query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'hpe2e\\_%' ORDER BY 1")).split('\n');
    expect(schemas).toEqual(['hpe2e_lab_app_data_vm', 'hpe2e_lab_app_vm', 'hpe2e_lab_proxy_vm']);
    for (const schema of schemas) {
      const state = JSON.parse(await pg!.query(`SELECT data FROM ${schema}.states WHERE name = 'default'`)) as { resources: Array<{ type: string }> };
      expect(state.resources.map((r) => r.type)).toContain('terraform_data');
    }
  });

  it('changes nothing the second time', async () => {
    const ctx = await apply();
    expect(ctx.applied?.lab?.changed).toBe(false);
    expect(Object.values(ctx.applied!.lab!.plans).every((p) => p.empty)).toBe(true);
  });

  it('never writes the database password into a file', () => {
    for (const file of filesUnder(root)) expect(readFileSync(file).includes(pg!.password)).toBe(false);
  });

  it('destroys the VM stacks and keeps the data stack\'s state', async () => {
    await apply({ destroy: true });
    const count = async (schema: string) => JSON.parse(await pg!.query(`SELECT data FROM ${schema}.states WHERE name = 'default'`)).resources.length as number;
    expect(await count('hpe2e_lab_app_vm')).toBe(0);
    expect(await count('hpe2e_lab_proxy_vm')).toBe(0);
    expect(await count('hpe2e_lab_app_data_vm')).toBe(1);
  });
});
