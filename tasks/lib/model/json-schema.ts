// The JSON schema editors use for inventory/site.yaml, generated from the zod schema.
import { z } from 'zod';
import { SiteFileSchema } from './schema';

export const SITE_SCHEMA_FILE = 'inventory/site.schema.json';

export function siteJsonSchema(): string {
  const schema = z.toJSONSchema(SiteFileSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'homeprod site' }, null, 2)}\n`;
}
