// loadSite(): parse → normalize → cross-field rules. The only way any layer gets the site.
import { resolve } from 'node:path';
import type { z } from 'zod';
import { EXIT, HomeprodError } from '../ui/errors';
import { normalizeHost, normalizeSite, normalizeStage } from './normalize';
import { nearest, runRules, type RuleInput } from './rules';
import { shown, stringProblem, strings } from './free-text';
import { HostSchema, ImageSchema, ServiceSchema, SiteFileSchema, StageSchema, UserSchema, isDnsName } from './schema';
import { SiteSource, type Path, type SiteIssue } from './source';
import { STAGES, type Site } from './types';

export * from './types';
export { hostOfStack } from './normalize';
export const DEFAULT_SITE_FILE = 'inventory/site.yaml';

export interface Validation {
  site?: Site;
  /** Formatted error lines: `file:line:col: path: message`. */
  errors: string[];
}

/** Reads and validates the site; never throws for bad input, returns every error instead. */
export function validateSite(file: string = DEFAULT_SITE_FILE): Validation {
  const source = SiteSource.read(resolve(file));
  const issues: SiteIssue[] = [...source.issues];
  const unsafe = stringIssues(source.data);
  issues.push(...unsafe);
  // A string refused as a whole says all there is to say of its field.
  const refused = new Set(unsafe.map((i) => SiteSource.formatPath(i.path)));
  const beyondRefused = (i: SiteIssue) => !refused.has(SiteSource.formatPath(i.path));
  if (source.issues.length === 0 || Object.keys(source.data).length > 0) issues.push(...schemaIssues(source).filter(beyondRefused));
  if (Object.keys(source.data).length > 0) issues.push(...runRules(ruleInput(source.data)).filter(beyondRefused));
  const errors = dedupe(issues).map((i) => source.formatIssue(i));
  if (errors.length > 0) return { errors };
  const site = normalizeSite(source.file, SiteFileSchema.parse(source.data));
  return { site, errors: [] };
}

/** The validated site, or a HomeprodError listing every mistake (exit 1). */
export function loadSite(file: string = DEFAULT_SITE_FILE): Site {
  const { site, errors } = validateSite(file);
  if (!site) throw new HomeprodError(`${file} is not a valid site (${errors.length} error${errors.length === 1 ? '' : 's'}):`, EXIT.failed, undefined, errors);
  return site;
}

/** Every string of the site is one line of text with no template syntax (free-text.ts). */
function stringIssues(data: Record<string, unknown>): SiteIssue[] {
  return [...strings(data)].flatMap(({ path, value }) => {
    const message = stringProblem(value);
    return message ? [{ path, message }] : [];
  });
}

function schemaIssues(source: SiteSource): SiteIssue[] {
  const result = SiteFileSchema.safeParse(source.data, { reportInput: true });
  if (result.success) return [];
  return result.error.issues.flatMap((issue) => describe(issue, source));
}

function describe(issue: z.core.$ZodIssue, source: SiteSource): SiteIssue[] {
  const path = issue.path as Path;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(path);
      return issue.keys.map((key) => {
        const near = nearest(key, known);
        return {
          path: [...path, key],
          message: `unknown key ${shown(key)}${near ? ` (did you mean "${near}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : ''}`,
          position: source.locateKey(path, key),
        };
      });
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const near = nearest(String(issue.input), allowed);
      // Values echoed cut (shown), so a huge one is never printed whole.
      return [{ path, message: `${shown(issue.input)} is not one of ${allowed.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}` }];
    }
    case 'invalid_type':
      return [{ path, message: issue.input === undefined ? `is required (${issue.expected})` : `expected ${issue.expected}, got ${shown(issue.input)}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** The keys the schema allows at a path, for "did you mean" suggestions. */
function knownKeys(path: Path): string[] {
  let schema: unknown = SiteFileSchema;
  for (const step of path) {
    schema = unwrap(schema);
    const def = (schema as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown } }).def;
    if (def?.type === 'object' && typeof step === 'string') schema = def.shape?.[step];
    else if (def?.type === 'array') schema = def.element;
    else if (def?.type === 'record') schema = def.valueType;
    else return [];
  }
  const def = (unwrap(schema) as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown; in?: unknown } };
  while (s?.def && ['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(s.def.type ?? '')) s = (s.def.innerType ?? s.def.in) as typeof s;
  return s;
}

/** The parts of the site that are valid on their own, for the cross-field rules. */
function ruleInput(data: Record<string, unknown>): RuleInput {
  const domain = typeof data.domain === 'string' && isDnsName(data.domain) ? data.domain : undefined;
  const stagesRaw = (data.stages ?? {}) as Record<string, unknown>;
  const stages: RuleInput['stages'] = {};
  for (const name of STAGES) {
    const parsed = StageSchema.safeParse(stagesRaw[name]);
    if (parsed.success) stages[name] = normalizeStage(name, parsed.data, domain ?? 'invalid');
  }
  const list = (key: string) => (Array.isArray(data[key]) ? (data[key] as unknown[]) : []);
  const hosts: RuleInput['hosts'] = [];
  list('hosts').forEach((raw, index) => {
    const parsed = HostSchema.safeParse(raw);
    if (!parsed.success) return;
    const stage = stages[parsed.data.stage];
    hosts.push({ index, file: parsed.data, host: stage ? normalizeHost(parsed.data, stage, domain ?? 'invalid') : undefined });
  });
  const services: RuleInput['services'] = [];
  list('services').forEach((raw, index) => {
    const parsed = ServiceSchema.safeParse(raw);
    if (parsed.success) services.push({ index, file: parsed.data });
  });
  const imagesRaw = data.images;
  const images =
    imagesRaw && typeof imagesRaw === 'object' && Object.values(imagesRaw).every((i) => ImageSchema.safeParse(i).success) ? Object.keys(imagesRaw) : imagesRaw === undefined ? [] : undefined;
  const users = list('users').flatMap((raw, index) => {
    const parsed = UserSchema.safeParse(raw);
    return parsed.success ? [{ index, name: parsed.data.name }] : [];
  });
  const allHostNames = list('hosts').flatMap((h) => (h && typeof h === 'object' && typeof (h as { name?: unknown }).name === 'string' ? [(h as { name: string }).name] : []));
  const roleOnly = HostSchema.pick({ stage: true, roles: true });
  const allHostRoles = list('hosts').flatMap((raw) => {
    const parsed = roleOnly.safeParse(raw && typeof raw === 'object' ? { stage: (raw as Record<string, unknown>).stage, roles: (raw as Record<string, unknown>).roles } : raw);
    return parsed.success ? [parsed.data] : [];
  });
  return { domain, stages, hosts, services, users, images, allHostNames, allHostRoles };
}

function dedupe(issues: SiteIssue[]): SiteIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${SiteSource.formatPath(i.path)}\0${i.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}
