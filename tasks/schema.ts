// Writes inventory/site.schema.json from the zod schema (the schema test checks it is current).
import { writeFileSync } from 'node:fs';
import { siteJsonSchema, SITE_SCHEMA_FILE } from './lib/model/json-schema';

writeFileSync(SITE_SCHEMA_FILE, siteJsonSchema());
console.log(`wrote ${SITE_SCHEMA_FILE}`);
