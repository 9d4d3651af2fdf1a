// Which stacks a run covers, and in which order: dependencies first (data disks as early as
// possible), only the named hosts for a `down --host`, and the recorded stacks whose host
// left the site.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Site, StageName } from '../model/types';
import type { SynthStack } from '../synth';
import { EXIT, HomeprodError } from '../ui/errors';
import type { AppliedStacks } from './applied-stacks';

/**
 * Orders stacks so that every stack comes after its dependencies, data stacks as early as
 * possible; unknown dependencies and cycles are errors naming the stacks.
 */
export function orderStacks<S extends { name: string; kind: 'vm' | 'data'; dependsOn: string[] }>(stacks: S[]): S[] {
  const byName = new Map(stacks.map((s) => [s.name, s]));
  for (const s of stacks) {
    for (const dep of s.dependsOn) if (!byName.has(dep)) throw new HomeprodError(`stack ${s.name} depends on ${dep}, which was not synthesized`);
  }
  const ordered: S[] = [];
  const done = new Set<string>();
  const pending = [...stacks].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'data' ? -1 : 1));
  while (pending.length > 0) {
    const index = pending.findIndex((s) => s.dependsOn.every((d) => done.has(d)));
    if (index < 0) throw new HomeprodError(`the stacks depend on each other in a cycle: ${pending.map((s) => s.name).join(', ')}`);
    const [next] = pending.splice(index, 1);
    ordered.push(next!);
    done.add(next!.name);
  }
  return ordered;
}

/**
 * The stacks of `hosts` only, for a destroy; every stack otherwise. Filtered after ordering,
 * as a VM stack still names its data stack as a dependency when only the VM goes.
 */
export function onlyHosts(stacks: SynthStack[], site: Site, stage: StageName, opts: { hosts?: string[]; destroy?: boolean }): SynthStack[] {
  if (opts.hosts === undefined) return stacks;
  if (!opts.destroy) throw new Error('applySteps: `hosts` selects stacks to destroy; an apply always covers the whole stage');
  const names = new Set<string>();
  for (const name of opts.hosts) {
    const host = site.hosts.find((h) => h.name === name && h.stage === stage);
    if (!host) {
      const known = site.hosts.filter((h) => h.stage === stage).map((h) => h.name);
      throw new HomeprodError(`--host ${name}: not a host of stage ${stage} in the site (${known.join(', ')})`, EXIT.usage);
    }
    names.add(host.stackName);
    if (host.dataStackName) names.add(host.dataStackName);
  }
  return stacks.filter((s) => names.has(s.name));
}

/**
 * The recorded stacks that synthesis no longer produces. VM stacks are destroyed with the
 * configuration they were applied with: the record's own copy when it keeps one (a shared
 * record; written into this checkout's `<outdir>/stacks/<name>/`, which may never have had it),
 * else what synthesis left in cdktf.out. Data stacks are kept: that configuration protects them
 * with prevent_destroy, and losing a disk takes the host back in the site and
 * `down --host NAME --destroy-data`.
 */
export async function orphansOf(record: AppliedStacks, synthesized: SynthStack[], outdir: string): Promise<{ orphans: SynthStack[]; keptOrphans: string[]; recorded: string[] }> {
  const current = new Set(synthesized.map((s) => s.name));
  const applied = await record.list();
  const gone = applied.filter((s) => !current.has(s.name));
  const orphans: SynthStack[] = [];
  for (const { config, ...stack } of gone.filter((s) => s.kind === 'vm')) {
    if (config) {
      const dir = join(outdir, 'stacks', stack.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cdk.tf.json'), `${JSON.stringify(config, null, 2)}\n`);
      orphans.push({ ...stack, dir });
      continue;
    }
    if (!existsSync(join(stack.dir, 'cdk.tf.json'))) {
      throw new HomeprodError(
        `${stack.name}: its host is no longer in the site, and the configuration it was applied with (${stack.dir}/cdk.tf.json) is gone, so Terraform cannot destroy it`,
        EXIT.precondition,
        `put the host back and run \`down --host\` before deleting it, or remove its resources by hand and delete its entry from ${record.where}`,
      );
    }
    orphans.push(stack);
  }
  return { orphans, keptOrphans: gone.filter((s) => s.kind === 'data').map((s) => s.name), recorded: applied.map((s) => s.name) };
}
