// The stacks Terraform has applied for a stage, in the stage's store: each stack's name, kind,
// dependencies and the directory of the configuration it was applied with. A host deleted from
// the site is no longer synthesized; this record is how `up` still finds its stack and destroys
// it, with the configuration synthesis left in cdktf.out (it never prunes). A store shared by
// every checkout (PostgreSQL) also keeps that configuration itself: another checkout has no
// such directory, and recreates it from the record.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EXIT, HomeprodError } from '../ui/errors';
import type { StateStore } from '../shared/store';
import type { StageName } from '../model/types';

const AppliedStackSchema = z.object({
  name: z.string(),
  kind: z.enum(['vm', 'data']),
  dependsOn: z.array(z.string()),
  dir: z.string(),
  /** The cdk.tf.json it was applied with (shared stores only). */
  config: z.record(z.string(), z.unknown()).optional(),
  /** When an apply last changed it: configure runs every play on a host whose machine changed since. */
  appliedAt: z.string().optional(),
});

export type AppliedStack = z.infer<typeof AppliedStackSchema>;

const RecordSchema = z.object({ stacks: z.array(AppliedStackSchema) });

// What must never be kept in a record other machines read: private keys, and the values of
// the secrets homeprod knows from the environment.
const SECRET_PATTERNS = [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, /"password"\s*:/i];
const SECRET_VARIABLES = ['PROXMOX_VE_API_TOKEN', 'PROXMOX_VE_PASSWORD', 'PGPASSWORD', 'HOMEPROD_VAULT_PASSWORD_LAB', 'HOMEPROD_VAULT_PASSWORD_PROD'];

/** Why a stack's configuration must not be stored, or null when it may. */
export function secretIn(configText: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const pattern of SECRET_PATTERNS) if (pattern.test(configText)) return `it contains ${pattern.source.includes('PRIVATE') ? 'a private key' : 'a password field'}`;
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value && value.length >= 8 && configText.includes(value)) return `it contains the value of ${name}`;
  }
  return null;
}

export class AppliedStacks {
  constructor(
    readonly store: StateStore,
    readonly stage: StageName,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Where the record is, for messages. */
  get where(): string {
    return this.store.where(this.stage, 'applied-stacks');
  }

  async list(): Promise<AppliedStack[]> {
    const raw = await this.store.read(this.stage, 'applied-stacks');
    if (raw === null) return [];
    const parsed = RecordSchema.safeParse(raw);
    if (!parsed.success) throw new HomeprodError(`${this.where}: not a record of applied stacks (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    return parsed.data.stacks;
  }

  /** Records `add` as applied (`changed`: by this apply, now) and `remove` as gone, in one write. */
  async update(add: Array<Omit<AppliedStack, 'config' | 'appliedAt'>>, remove: string[], changed: string[] = []): Promise<void> {
    const byName = new Map((await this.list()).map((s) => [s.name, s]));
    const now = new Date().toISOString();
    for (const name of remove) byName.delete(name);
    for (const s of add) {
      const appliedAt = changed.includes(s.name) ? now : byName.get(s.name)?.appliedAt;
      byName.set(s.name, { name: s.name, kind: s.kind, dependsOn: [...s.dependsOn], dir: s.dir, ...this.configOf(s), ...(appliedAt ? { appliedAt } : {}) });
    }
    const stacks = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
    await this.store.write(this.stage, 'applied-stacks', { stacks });
  }

  /** Before anything is applied: a shared record will hold these stacks' configurations, so none may hold a secret. */
  assertStorable(stacks: Array<Pick<AppliedStack, 'name' | 'dir'>>): void {
    for (const stack of stacks) this.configOf(stack);
  }

  private configOf(stack: Pick<AppliedStack, 'name' | 'dir'>): { config?: Record<string, unknown> } {
    if (!this.store.shared) return {};
    const file = join(stack.dir, 'cdk.tf.json');
    if (!existsSync(file)) return {};
    const text = readFileSync(file, 'utf8');
    const secret = secretIn(text, this.env);
    if (secret) {
      throw new HomeprodError(
        `${stack.name}: its configuration would be recorded in ${this.where}, where every checkout reads it, but ${secret}; nothing was applied`,
        EXIT.refused,
        'secrets belong in the environment at run time (PROXMOX_VE_API_TOKEN, PG*), never in a stack',
      );
    }
    return { config: JSON.parse(text) as Record<string, unknown> };
  }
}
