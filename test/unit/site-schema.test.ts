import { describe, expect, it } from '@jest/globals';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { siteJsonSchema, SITE_SCHEMA_FILE } from '../../tasks/lib/model/json-schema';

describe('inventory/site.schema.json', () => {
  it('is the JSON schema generated from the zod schema (npm run schema regenerates it)', () => {
    const generated = siteJsonSchema();
    const committed = readFileSync(SITE_SCHEMA_FILE, 'utf8');
    if (committed !== generated) writeFileSync(`${SITE_SCHEMA_FILE}.actual`, generated);
    else rmSync(`${SITE_SCHEMA_FILE}.actual`, { force: true });
    expect(committed).toBe(generated);
  });

  it('describes every field and is named by the site file', () => {
    const schema = JSON.parse(readFileSync(SITE_SCHEMA_FILE, 'utf8'));
    const host = schema.properties.hosts.items;
    for (const [name, field] of Object.entries<{ description?: string }>(host.properties)) expect([name, field.description]).toEqual([name, expect.any(String)]);
    expect(host.additionalProperties).toBe(false);
    expect(readFileSync('inventory/site.yaml', 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\/site\.schema\.json$/m);
  });
});
