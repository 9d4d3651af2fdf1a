// Parses what Terraform hands the CLI (JSON in HOMEPROD_VM / HOMEPROD_DISK) into the spec
// types, naming the exact field on error. Values end up in paths, interface names and
// commands, so the shapes are strict.
import { z } from 'zod';
import { EXIT, HomeprodError } from '../../ui/errors';
import { ROLES, STAGES } from '../../model/types';
import { LOCAL_DISK_ENV, LOCAL_VM_ENV, type LocalDiskSpec, type LocalVmSpec } from './spec';

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lower-case DNS label');
const ipv4 = z.ipv4();
const label = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, "-" or "_"');
const absPath = z.string().regex(/^\/[^:,\0]*$/, 'must be an absolute path without ":" or ","');

const ForwardSchema = z.strictObject({
  address: z.ipv4(),
  httpPort: z.number().int().min(1).max(65535),
  httpsPort: z.number().int().min(1).max(65535),
});

export const LocalVmSpecSchema = z.strictObject({
  name,
  stage: z.enum(STAGES),
  roles: z.array(z.enum(ROLES)),
  vmid: z.number().int().min(1).max(999_999_999),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'must be a MAC address like 02:00:00:00:00:01'),
  ipv4,
  prefixLength: z.number().int().min(8).max(30),
  gateway: ipv4,
  cidr: z.cidrv4(),
  dnsSearch: z.string().regex(/^[a-z0-9.-]*$/i, 'must be a DNS name'),
  dataDisks: z.array(z.strictObject({ owner: name, label, mountpoint: absPath, readOnly: z.boolean(), interface: z.string() })),
  authorizedKeys: z.array(z.string().regex(/^(ssh-|ecdsa-|sk-)[^\n]+$/, 'must be one OpenSSH public key line')),
  // Terraform's jsonencode writes an absent optional attribute as null.
  forward: ForwardSchema.nullish().transform((v) => v ?? undefined),
}) satisfies z.ZodType<LocalVmSpec>;

export const LocalDiskSpecSchema = z.strictObject({
  name,
  stage: z.enum(STAGES),
  vmid: z.number().int().min(1),
  disks: z.array(z.strictObject({ label, size: z.number().positive(), interface: z.string() })).min(1),
}) satisfies z.ZodType<LocalDiskSpec>;

/** `HOMEPROD_VM.dataDisks[0].mountpoint` */
export function fieldPath(root: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${String(k)}`), root);
}

function parseEnv<T>(variable: string, schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const raw = env[variable];
  if (!raw) throw new HomeprodError(`${variable} is not set: it carries the JSON spec (Terraform's local-exec sets it)`, EXIT.usage);
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    throw new HomeprodError(`${variable} is not valid JSON: ${(error as Error).message}`, EXIT.usage);
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => `${fieldPath(variable, i.path)}: ${i.message}`);
  throw new HomeprodError(`${variable} is not a valid spec:`, EXIT.usage, undefined, details);
}

export const vmSpecFromEnv = (env: NodeJS.ProcessEnv = process.env): LocalVmSpec => parseEnv(LOCAL_VM_ENV, LocalVmSpecSchema, env);
export const diskSpecFromEnv = (env: NodeJS.ProcessEnv = process.env): LocalDiskSpec => parseEnv(LOCAL_DISK_ENV, LocalDiskSpecSchema, env);
