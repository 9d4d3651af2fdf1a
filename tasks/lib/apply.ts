// The apply layer: synthesize a stage's stacks, plan every stack, stop before anything is
// applied when data would be lost, then apply (or destroy) in dependency order, data disks
// first, at most two stacks at a time. `tasks/apply.ts` runs these steps alone, `tasks/up.ts`
// composes them with the other layers.
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { synthStage } from '../../stacks/main';
import { AppliedStacks } from './applied-stacks';
import { EXIT, HomeprodError } from './errors';
import { controlKey, stateRoot } from './keys';
import { type Step, type StepTask, taskLog } from './listr';
import type { HostOutput, Site, Stage, StageName } from './model/types';
import { synthOptions } from './synth';
import { createTerraform, dataLossError, planLine, type PlanSummary, type StackRef, type Terraform } from './terraform';

/** One synthesized stack (the contract of stacks/main.ts `synthStage`). */
export interface SynthStack extends StackRef {
  dependsOn: string[];
}

export interface SynthResult {
  outdir: string;
  stacks: SynthStack[];
}

export type Synthesize = (site: Site, stage: StageName, options: { allowDataDestroy: boolean }) => SynthResult | Promise<SynthResult>;

/**
 * The real synthesizer: stacks/main.ts with every VM authorizing the site's users and the
 * stage's control-node key. `up` and `apply` both synthesize through here, so the keys (part
 * of each local VM's identity) never differ between the two and never replace a VM.
 */
export function synthesizer(paths: { outdir?: string; tfStateDir?: string } = {}): Synthesize {
  return async (site, stage, { allowDataDestroy }) => {
    const control = await controlKey(stage);
    const authorizedKeys = [...new Set([...site.users.flatMap((u) => u.sshKeys), control.publicKey])];
    return synthStage(site, stage, synthOptions(site, stage, { allowDataDestroy, authorizedKeys, outdir: paths.outdir, stateDir: paths.tfStateDir }));
  };
}

export interface ApplyOptions {
  stage: StageName;
  /** The site; when absent, an earlier step must have put it into ctx.site. */
  site?: Site;
  /** Default: `synthesizer()` (stacks/main.ts into cdktf.out). */
  synthesize?: Synthesize;
  /** Where our terraform CLI config lives (default the state root, <project>/.state). */
  stateDir?: string;
  /** Destroy the stage's stacks instead of applying them (reverse order). */
  destroy?: boolean;
  /** With `destroy`: also destroy the data stacks. */
  destroyData?: boolean;
  /** With `destroy`: only these hosts' stacks (names of the stage's hosts). */
  hosts?: string[];
  /** Apply even when a plan destroys or replaces a data disk or data VM. */
  allowDataLoss?: boolean;
  /** Plan only. */
  dryRun?: boolean;
  /** Skip the confirmation. */
  yes?: boolean;
  /** Asks a yes/no question inside the task; absent = no way to ask (then `--yes` is required). */
  confirm?: (task: StepTask<ApplyContext>, message: string) => Promise<boolean>;
  /** An existing runner (tests, or a caller that runs several stages). */
  terraform?: Terraform;
  /** Extra environment for terraform, e.g. PG* for the pg backend. */
  terraformEnv?: Record<string, string>;
  /** At most this many stacks at a time (default 2). */
  concurrency?: number;
  /** Checks that a proxmox stage's cluster answers (default: a TCP connect to its endpoint). */
  probeCluster?: (stage: Stage) => Promise<void>;
  signal?: AbortSignal;
}

export interface StageApplyResult {
  stacks: SynthStack[];
  /** Applied before, no longer synthesized (their host left the site): destroyed by this run. */
  orphans: SynthStack[];
  /** Orphaned data stacks: always kept (their configuration protects them). */
  keptOrphans: string[];
  /** The last plan of every stack that was planned (skipped data stacks are absent). */
  plans: Record<string, PlanSummary>;
  /** Stacks whose plan waits for their dependencies to be applied. */
  deferred: string[];
  /** Something was applied. */
  changed: boolean;
  /** The `host` output of every VM stack (not after a destroy), sorted by name. */
  outputs: HostOutput[];
}

export interface ApplyContext {
  site?: Site;
  applied?: Partial<Record<StageName, StageApplyResult>>;
}

export function applySteps(opts: ApplyOptions): Step<ApplyContext>[] {
  const { stage } = opts;
  const verb = opts.destroy ? 'destroy' : 'apply';
  let terraform: Terraform | undefined = opts.terraform;
  const tf = () => {
    if (!terraform) throw new Error('terraform runner used before it was prepared');
    return terraform;
  };
  const siteOf = (ctx: ApplyContext): Site => {
    const site = opts.site ?? ctx.site;
    if (!site) throw new Error('applySteps: no site (pass opts.site or load it into ctx.site first)');
    return site;
  };
  const resultOf = (ctx: ApplyContext): StageApplyResult => {
    const result = ctx.applied?.[stage];
    if (!result) throw new Error(`applySteps: the ${stage} stacks were not synthesized`);
    return result;
  };
  /** Data stacks are left alone by a destroy unless asked. */
  const kept = (stack: SynthStack) => Boolean(opts.destroy) && stack.kind === 'data' && !opts.destroyData;

  return [
    {
      title: `Prepare Terraform for the ${stage} stage`,
      task: async (ctx, task) => {
        const stageConfig = siteOf(ctx).stages[stage];
        terraform ??= await createTerraform(opts.stateDir ?? stateRoot(), { env: opts.terraformEnv, signal: opts.signal });
        if (stageConfig.platform === 'proxmox') {
          await (opts.probeCluster ?? probeProxmox)(stageConfig);
          task.title = `Terraform ready; the ${stage} cluster at ${stageConfig.proxmox.endpoint} answers`;
        } else {
          task.title = `Terraform ready for the ${stage} stage (${stageConfig.platform} platform)`;
        }
      },
    },
    {
      title: `Synthesize the ${stage} stacks`,
      task: async (ctx, task) => {
        const allowDataDestroy = Boolean(opts.allowDataLoss || (opts.destroy && opts.destroyData));
        const synth = await (opts.synthesize ?? synthesizer())(siteOf(ctx), stage, { allowDataDestroy });
        const stacks = onlyHosts(orderStacks(synth.stacks), siteOf(ctx), stage, opts);
        const { orphans, keptOrphans } = opts.hosts ? { orphans: [], keptOrphans: [] } : orphansOf(AppliedStacks.of(tf().config.stateDir, stage), synth.stacks);
        ctx.applied = { ...ctx.applied, [stage]: { stacks, orphans, keptOrphans, plans: {}, deferred: [], changed: false, outputs: [] } };
        const gone = [...orphans.map((o) => o.name), ...keptOrphans];
        task.title = `Synthesized ${stacks.length} ${stage} stack${stacks.length === 1 ? '' : 's'} into ${synth.outdir}${gone.length ? `; no longer in the site: ${gone.join(', ')}` : ''}`;
      },
    },
    {
      title: `Plan the ${stage} stacks`,
      task: (ctx, task) => {
        const result = resultOf(ctx);
        const planned = new Map(result.stacks.map((s) => [s.name, deferred<PlanSummary | 'deferred' | 'kept'>()]));
        const orphanPlans = result.orphans.map((stack) => ({
          title: stack.name,
          task: async (_ctx: ApplyContext, sub: StepTask<ApplyContext>) => {
            const log = taskLog(sub);
            await tf().init(stack, log);
            const plan = await tf().plan(stack, { destroy: true }, log);
            result.plans[stack.name] = plan;
            sub.title = `${stack.name}: its host left the site: ${planLine(plan)}`;
          },
        }));
        return task.newListr(
          [...orphanPlans, ...result.stacks.map((stack) => ({
            title: stack.name,
            task: async (_ctx: ApplyContext, sub: StepTask<ApplyContext>) => {
              const done = planned.get(stack.name)!;
              try {
                if (kept(stack)) {
                  sub.title = `${stack.name}: kept (a data stack; --destroy-data destroys it)`;
                  done.resolve('kept');
                  return;
                }
                // A stack whose dependencies change is planned once they are applied: its
                // plan may read what they create.
                if (!opts.destroy) {
                  const waiting: string[] = [];
                  for (const dep of stack.dependsOn) {
                    const depPlan = await planned.get(dep)!.promise;
                    if (depPlan === 'deferred' || (typeof depPlan === 'object' && !depPlan.empty)) waiting.push(dep);
                  }
                  if (waiting.length > 0) {
                    result.deferred.push(stack.name);
                    sub.title = `${stack.name}: planned after ${waiting.join(', ')} ${waiting.length === 1 ? 'is' : 'are'} applied`;
                    done.resolve('deferred');
                    return;
                  }
                }
                const log = taskLog(sub);
                await tf().init(stack, log);
                const plan = await tf().plan(stack, { destroy: opts.destroy }, log);
                result.plans[stack.name] = plan;
                sub.title = `${stack.name}: ${planLine(plan)}`;
                done.resolve(plan);
              } catch (error) {
                done.reject(error);
                throw error;
              }
            },
          }))],
          { concurrent: opts.concurrency ?? 2, exitOnError: true },
        );
      },
    },
    {
      title: 'Check the plans for data loss',
      task: (ctx, task) => {
        const plans = Object.values(resultOf(ctx).plans);
        // --destroy --destroy-data asks for exactly this loss.
        const allowed = opts.allowDataLoss || (opts.destroy && opts.destroyData);
        const error = allowed ? null : dataLossError(plans, `the ${stage} stage`);
        if (error) throw error;
        const losses = plans.flatMap((p) => p.dataLoss).length;
        const kept = resultOf(ctx).keptOrphans;
        task.title = losses ? `${losses} data resource${losses === 1 ? '' : 's'} will be destroyed, as asked` : 'No data disk or data VM would be destroyed or replaced';
        if (kept.length) task.title += `; kept, though their host left the site: ${kept.join(', ')} (to destroy one, put its host back and run down --host NAME --destroy-data)`;
      },
    },
    {
      title: `Confirm the ${stage} changes`,
      enabled: () => !opts.dryRun,
      skip: (ctx) => {
        if (!hasWork(resultOf(ctx))) return 'Nothing to change';
        return opts.yes ? 'Confirmed with --yes' : false;
      },
      task: async (ctx, task) => {
        const result = resultOf(ctx);
        const message = confirmationQuestion(stage, verb, result);
        if (!opts.confirm) {
          throw new HomeprodError(`${message.replace(/\?$/, '')}: needs a confirmation, and there is no terminal to ask`, EXIT.refused, 'pass --yes to go ahead without asking');
        }
        if (!(await opts.confirm(task, message))) throw new HomeprodError(`Did not ${verb} the ${stage} stage: not confirmed`, EXIT.refused);
        task.title = `Confirmed: ${verb} the ${stage} stage`;
      },
    },
    {
      title: `${opts.destroy ? 'Destroy' : 'Apply'} the ${stage} stacks`,
      enabled: () => !opts.dryRun,
      skip: (ctx) => (hasWork(resultOf(ctx)) ? false : 'Nothing to change'),
      task: (ctx, task) => {
        const result = resultOf(ctx);
        const all = [...result.orphans, ...result.stacks];
        const applied = new Map(all.map((s) => [s.name, deferred<void>()]));
        const orphan = (stack: SynthStack) => result.orphans.includes(stack);
        // Applies wait for dependencies, and for the orphans to go first (a new host may take an
        // old one's address or VMID); destroys wait for the stacks that depend on them.
        const waitsFor = (stack: SynthStack) =>
          opts.destroy
            ? all.filter((other) => other.dependsOn.includes(stack.name)).map((s) => s.name)
            : orphan(stack)
              ? []
              : [...stack.dependsOn, ...result.orphans.map((o) => o.name)];
        const order = opts.destroy ? [...all].reverse() : all;
        const hasChanges = (s: SynthStack) => result.deferred.includes(s.name) || (result.plans[s.name] !== undefined && !result.plans[s.name]!.empty);
        for (const stack of order) if (!hasChanges(stack)) applied.get(stack.name)!.resolve();
        return task.newListr(
          order.filter(hasChanges).map((stack) => ({
            title: stack.name,
            task: async (_ctx: ApplyContext, sub: StepTask<ApplyContext>) => {
              const done = applied.get(stack.name)!;
              try {
                for (const name of waitsFor(stack)) {
                  sub.title = `${stack.name}: waiting for ${name}`;
                  await applied.get(name)!.promise.catch(() => {
                    throw new HomeprodError(`${stack.name}: not ${opts.destroy ? 'destroyed' : 'applied'}, because ${name} failed`);
                  });
                }
                const log = taskLog(sub);
                let plan = result.plans[stack.name];
                if (!plan) {
                  sub.title = `${stack.name}: planning`;
                  await tf().init(stack, log);
                  plan = await tf().plan(stack, {}, log);
                  result.plans[stack.name] = plan;
                  const error = opts.allowDataLoss ? null : dataLossError([plan], stack.name);
                  if (error) throw error;
                }
                const destroying = opts.destroy || orphan(stack);
                if (!plan.empty) {
                  sub.title = `${stack.name}: ${destroying ? 'destroying' : 'applying'} (${planLine(plan)})`;
                  await tf().apply(stack, plan, log);
                  result.changed = true;
                }
                sub.title = `${stack.name}: ${plan.empty ? 'no changes' : `${destroying ? 'destroyed' : 'applied'} (${planLine(plan)})`}`;
                done.resolve();
              } catch (error) {
                done.reject(error);
                throw error;
              }
            },
          })),
          { concurrent: opts.concurrency ?? 2, exitOnError: true },
        );
      },
    },
    {
      title: `Record the applied ${stage} stacks`,
      enabled: () => !opts.dryRun,
      task: (ctx, task) => {
        const result = resultOf(ctx);
        const record = AppliedStacks.of(tf().config.stateDir, stage);
        // Kept data stacks of a destroy stay recorded; everything else planned is now as planned.
        const destroyed = [...result.orphans, ...(opts.destroy ? result.stacks.filter((s) => !kept(s)) : [])].map((s) => s.name);
        record.update(opts.destroy ? [] : result.stacks, destroyed);
        // Synthesis never writes these again; their configuration was only kept to destroy them.
        for (const stack of result.orphans) rmSync(stack.dir, { recursive: true, force: true });
        task.title = `Recorded the applied ${stage} stacks in ${record.file}`;
      },
    },
    {
      title: `Read the ${stage} host outputs`,
      enabled: () => !opts.destroy,
      task: async (ctx, task) => {
        const result = resultOf(ctx);
        const outputs: HostOutput[] = [];
        for (const stack of result.stacks.filter((s) => s.kind === 'vm')) {
          await tf().init(stack);
          const output = await tf().hostOutput(stack);
          if (output === null) {
            if (opts.dryRun) continue;
            throw new HomeprodError(`${stack.name}: no "host" output after apply`, EXIT.failed, 'every VM stack must output `host` (HostOutput in tasks/lib/model/types.ts)');
          }
          if (output.stage !== stage) throw new HomeprodError(`${stack.name}: output "host" says stage "${output.stage}", expected "${stage}"`);
          outputs.push(output);
        }
        result.outputs = outputs.sort((a, b) => a.name.localeCompare(b.name));
        task.title = `Read ${outputs.length} ${stage} host output${outputs.length === 1 ? '' : 's'}`;
      },
    },
  ];
}

/**
 * The recorded stacks that synthesis no longer produces. VM stacks are destroyed with the
 * configuration they were applied with; data stacks are kept: that configuration protects them
 * with prevent_destroy, and losing a disk takes the host back in the site and
 * `down --host NAME --destroy-data`.
 */
function orphansOf(record: AppliedStacks, synthesized: SynthStack[]): { orphans: SynthStack[]; keptOrphans: string[] } {
  const current = new Set(synthesized.map((s) => s.name));
  const gone = record.list().filter((s) => !current.has(s.name));
  const orphans = gone.filter((s) => s.kind === 'vm');
  for (const stack of orphans) {
    if (!existsSync(join(stack.dir, 'cdk.tf.json'))) {
      throw new HomeprodError(
        `${stack.name}: its host is no longer in the site, and the configuration it was applied with (${stack.dir}/cdk.tf.json) is gone, so Terraform cannot destroy it`,
        EXIT.precondition,
        `put the host back and run \`down --host\` before deleting it, or remove its resources by hand and delete its entry from ${record.file}`,
      );
    }
  }
  return { orphans, keptOrphans: gone.filter((s) => s.kind === 'data').map((s) => s.name) };
}

/**
 * The stacks of `opts.hosts` only, for a destroy; every stack otherwise. Filtered after ordering,
 * as a VM stack still names its data stack as a dependency when only the VM goes.
 */
function onlyHosts(stacks: SynthStack[], site: Site, stage: StageName, opts: Pick<ApplyOptions, 'hosts' | 'destroy'>): SynthStack[] {
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

function hasWork(result: StageApplyResult): boolean {
  return result.deferred.length > 0 || Object.values(result.plans).some((p) => !p.empty);
}

function confirmationQuestion(stage: StageName, verb: string, result: StageApplyResult): string {
  const plans = Object.values(result.plans);
  const [add, change, remove] = ['add', 'change', 'remove'].map((k) => plans.reduce((n, p) => n + (p[k as 'add' | 'change' | 'remove'] as number), 0));
  const later = result.deferred.length ? `, and plan ${result.deferred.length} more stack${result.deferred.length === 1 ? '' : 's'} once their dependencies exist` : '';
  return `${verb === 'destroy' ? 'Destroy' : 'Apply'} the ${stage} stage (${add} to add, ${change} to change, ${remove} to destroy${later})?`;
}

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

/** A TCP connect to the Proxmox API endpoint: a clear precondition error instead of a provider timeout. */
export async function probeProxmox(stage: Stage, timeoutMs = 5000): Promise<void> {
  const url = new URL(stage.proxmox.endpoint);
  const port = Number(url.port || (url.protocol === 'http:' ? 80 : 443));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const problem = await new Promise<string | null>((done) => {
    const socket = connect({ host, port });
    const finish = (result: string | null) => {
      socket.destroy();
      done(result);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs / 1000}s`));
    socket.once('connect', () => finish(null));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
  if (problem) {
    throw new HomeprodError(
      `stages.${stage.name}: the Proxmox cluster at ${stage.proxmox.endpoint} is not reachable (${problem})`,
      EXIT.precondition,
      `check the network path to ${host}:${port}, or set stages.${stage.name}.platform: local in the site file to rehearse on this machine`,
    );
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The failing task reports the error itself; waiters only learn that it failed.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
