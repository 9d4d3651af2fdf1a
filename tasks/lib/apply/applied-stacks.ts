// The stacks Terraform has applied for a stage, kept beside our Terraform CLI config: each
// stack's name, kind, dependencies and the directory of the configuration it was applied with.
// A host deleted from the site is no longer synthesized; this record is how `up` still finds its
// stack and destroys it, with the configuration synthesis left in cdktf.out (it never prunes).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HomeprodError } from '../ui/errors';
import { tfStateDir } from '../shared/paths';
import { writeFileAtomic } from '../shared/files';
import type { StageName } from '../model/types';

const AppliedStackSchema = z.object({
  name: z.string(),
  kind: z.enum(['vm', 'data']),
  dependsOn: z.array(z.string()),
  dir: z.string(),
});

export type AppliedStack = z.infer<typeof AppliedStackSchema>;

const RecordSchema = z.object({ stacks: z.array(AppliedStackSchema) });

export class AppliedStacks {
  constructor(readonly file: string) {}

  /** The record of `stage` for the runner whose state dir is `stateDir`. */
  static of(stateDir: string, stage: StageName): AppliedStacks {
    return new AppliedStacks(join(tfStateDir(stateDir), `applied-${stage}.json`));
  }

  list(): AppliedStack[] {
    if (!existsSync(this.file)) return [];
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      throw new HomeprodError(`${this.file}: not JSON (${(error as Error).message})`);
    }
    const parsed = RecordSchema.safeParse(raw);
    if (!parsed.success) throw new HomeprodError(`${this.file}: not a record of applied stacks (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    return parsed.data.stacks;
  }

  /** Records `add` as applied and `remove` as gone, in one write. */
  update(add: AppliedStack[], remove: string[]): void {
    const byName = new Map(this.list().map((s) => [s.name, s]));
    for (const name of remove) byName.delete(name);
    for (const s of add) byName.set(s.name, { name: s.name, kind: s.kind, dependsOn: [...s.dependsOn], dir: s.dir });
    const stacks = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
    writeFileAtomic(this.file, `${JSON.stringify({ stacks }, null, 2)}\n`, 0o600);
  }
}
