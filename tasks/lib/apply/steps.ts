// The apply steps, one function each, named after its title. They share one ApplyRun: the
// options, the Terraform runner the first step prepares, and the stage's result in ctx.
import { rmSync } from 'node:fs';
import type { Site, Stage } from '../model/types';
import { platformOf } from '../platform';
import { deferred, type Deferred } from '../shared/deferred';
import { stateRoot } from '../shared/paths';
import { storesFor } from '../shared/store';
import { type SynthStack, synthesizer } from '../synth';
import { EXIT, HomeprodError } from '../ui/errors';
import { type Step, type StepTask, taskLog } from '../ui/listr';
import { AppliedStacks } from './applied-stacks';
import type { ApplyContext, ApplyOptions, StageApplyResult } from './index';
import { dataLossError, planLine, plansLine, type PlanSummary } from './plan';
import { onlyHosts, orderStacks, orphansOf } from './stacks';
import { createTerraform, type Terraform } from './terraform';

type ApplyStep = Step<ApplyContext>;
type SubTask = StepTask<ApplyContext>;
/** What planning found for a stack, as the stacks that depend on it wait for it. */
type Planned = PlanSummary | 'deferred' | 'kept';

/** One apply run of one stage: its options and the runner, shared by its steps. */
export class ApplyRun {
  readonly stage: ApplyOptions['stage'];
  readonly verb: 'apply' | 'destroy';
  private terraform: Terraform | undefined;

  constructor(readonly opts: ApplyOptions) {
    this.stage = opts.stage;
    this.verb = opts.destroy ? 'destroy' : 'apply';
    this.terraform = opts.terraform;
  }

  /** The runner, with the environment the stage's platform gives its stacks (endpoint, trust). */
  async prepare(stage: Stage): Promise<Terraform> {
    const env = { ...platformOf(stage).terraformEnv(stage, { insecure: Boolean(this.opts.insecure) }), ...this.opts.terraformEnv };
    this.terraform ??= await createTerraform(this.opts.stateDir ?? stateRoot(), { env, signal: this.opts.signal });
    return this.terraform;
  }

  get tf(): Terraform {
    if (!this.terraform) throw new Error('terraform runner used before it was prepared');
    return this.terraform;
  }

  /**
   * The stage's record of applied stacks: in the stores given, else where the site's backend
   * keeps it (files beside the runner's CLI config, or the database terraform's PG* reach).
   */
  appliedStacks(ctx: ApplyContext): AppliedStacks {
    const env = { ...(this.opts.env ?? process.env), ...this.opts.terraformEnv };
    const stores = this.opts.stores ?? storesFor(this.site(ctx), { env, root: this.tf.config.stateDir });
    return new AppliedStacks(stores(this.stage), this.stage, env);
  }

  site(ctx: ApplyContext): Site {
    const site = this.opts.site ?? ctx.site;
    if (!site) throw new Error('applySteps: no site (pass opts.site or load it into ctx.site first)');
    return site;
  }

  result(ctx: ApplyContext): StageApplyResult {
    const result = ctx.applied?.[this.stage];
    if (!result) throw new Error(`applySteps: the ${this.stage} stacks were not synthesized`);
    return result;
  }

  /** Data stacks are left alone by a destroy unless asked. */
  kept(stack: SynthStack): boolean {
    return Boolean(this.opts.destroy) && stack.kind === 'data' && !this.opts.destroyData;
  }

  /** The loss this run was asked for: --allow-data-loss, or --destroy --destroy-data. */
  get dataLossAllowed(): boolean {
    return Boolean(this.opts.allowDataLoss || (this.opts.destroy && this.opts.destroyData));
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function prepareTerraform(run: ApplyRun): ApplyStep {
  return {
    title: `Prepare Terraform for the ${run.stage} stage`,
    task: async (ctx, task) => {
      const site = run.site(ctx);
      const stage = site.stages[run.stage];
      await run.prepare(stage);
      const ready = await platformOf(stage).preflight(stage, {
        dryRun: Boolean(run.opts.dryRun),
        say: (line) => (task.output = line),
        env: run.opts.env ?? process.env,
        site,
        insecure: Boolean(run.opts.insecure),
      });
      task.title = `Terraform ready; ${ready}`;
    },
  };
}

export function synthesizeStacks(run: ApplyRun): ApplyStep {
  const { stage } = run;
  return {
    title: `Synthesize the ${stage} stacks`,
    task: async (ctx, task) => {
      const site = run.site(ctx);
      const synth = await (run.opts.synthesize ?? synthesizer())(site, stage, { allowDataDestroy: run.dataLossAllowed });
      const stacks = onlyHosts(orderStacks(synth.stacks), site, stage, run.opts);
      const record = run.appliedStacks(ctx);
      if (!run.opts.destroy) record.assertStorable(stacks);
      const { orphans, keptOrphans, recorded } = run.opts.hosts ? { orphans: [], keptOrphans: [], recorded: [] } : await orphansOf(record, synth.stacks, synth.outdir);
      ctx.applied = { ...ctx.applied, [stage]: { stacks, orphans, keptOrphans, recorded, plans: {}, deferred: [], changed: false, outputs: [] } };
      const gone = [...orphans.map((o) => o.name), ...keptOrphans];
      task.title = `Synthesized ${plural(stacks.length, `${stage} stack`)} into ${synth.outdir}${gone.length ? `; no longer in the site: ${gone.join(', ')}` : ''}`;
    },
  };
}

export function planStacks(run: ApplyRun): ApplyStep {
  return {
    title: `Plan the ${run.stage} stacks`,
    task: (ctx, task) => {
      const result = run.result(ctx);
      const planned = new Map(result.stacks.map((s) => [s.name, deferred<Planned>()]));
      return task.newListr(
        [
          ...result.orphans.map((stack) => ({ title: stack.name, task: (_ctx: ApplyContext, sub: SubTask) => planOrphan(run, result, stack, sub) })),
          ...result.stacks.map((stack) => ({ title: stack.name, task: (_ctx: ApplyContext, sub: SubTask) => planStack(run, result, stack, planned, sub) })),
        ],
        { concurrent: run.opts.concurrency ?? 2, exitOnError: true },
      );
    },
  };
}

async function planOrphan(run: ApplyRun, result: StageApplyResult, stack: SynthStack, sub: SubTask): Promise<void> {
  const log = taskLog(sub, stack.name);
  await run.tf.init(stack, log);
  const plan = await run.tf.plan(stack, { destroy: true }, log);
  result.plans[stack.name] = plan;
  sub.title = `${stack.name}: its host left the site: ${planLine(plan)}`;
}

async function planStack(run: ApplyRun, result: StageApplyResult, stack: SynthStack, planned: Map<string, Deferred<Planned>>, sub: SubTask): Promise<void> {
  const done = planned.get(stack.name)!;
  try {
    if (run.kept(stack)) {
      sub.title = `${stack.name}: kept (a data stack; --destroy-data destroys it)`;
      done.resolve('kept');
      return;
    }
    // A stack whose dependencies change is planned once they are applied: its plan may read
    // what they create.
    if (!run.opts.destroy) {
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
    const log = taskLog(sub, stack.name);
    await run.tf.init(stack, log);
    const plan = await run.tf.plan(stack, { destroy: run.opts.destroy }, log);
    result.plans[stack.name] = plan;
    sub.title = `${stack.name}: ${planLine(plan)}`;
    done.resolve(plan);
  } catch (error) {
    done.reject(error);
    throw error;
  }
}

export function checkDataLoss(run: ApplyRun): ApplyStep {
  return {
    title: 'Check the plans for data loss',
    task: (ctx, task) => {
      const result = run.result(ctx);
      const plans = Object.values(result.plans);
      const error = run.dataLossAllowed ? null : dataLossError(plans, `the ${run.stage} stage`);
      if (error) throw error;
      const losses = plans.flatMap((p) => p.dataLoss).length;
      task.title = losses ? `${plural(losses, 'data resource')} will be destroyed, as asked` : 'No data disk or data VM would be destroyed or replaced';
      if (result.keptOrphans.length) {
        task.title += `; kept, though their host left the site: ${result.keptOrphans.join(', ')} (to destroy one, put its host back and run down --host NAME --destroy-data)`;
      }
    },
  };
}

export function hasWork(result: StageApplyResult): boolean {
  return result.deferred.length > 0 || Object.values(result.plans).some((p) => !p.empty);
}

function confirmationQuestion(run: ApplyRun, result: StageApplyResult): string {
  return `${run.verb === 'destroy' ? 'Destroy' : 'Apply'} the ${run.stage} stage (${plansLine(Object.values(result.plans), result.deferred.length)})?`;
}

export function confirmChanges(run: ApplyRun): ApplyStep {
  const { stage, verb } = run;
  return {
    title: `Confirm the ${stage} changes`,
    enabled: () => !run.opts.dryRun,
    skip: (ctx) => {
      if (!hasWork(run.result(ctx))) return 'Nothing to change';
      return ctx.confirmed?.[stage] ?? (run.opts.yes ? 'Confirmed with --yes' : false);
    },
    task: async (ctx, task) => {
      const message = confirmationQuestion(run, run.result(ctx));
      if (!run.opts.confirm) {
        throw new HomeprodError(`${message.replace(/\?$/, '')}: needs a confirmation, and there is no terminal to ask`, EXIT.refused, 'pass --yes to go ahead without asking');
      }
      if (!(await run.opts.confirm(task, message))) throw new HomeprodError(`Did not ${verb} the ${stage} stage: not confirmed`, EXIT.refused);
      task.title = `Confirmed: ${verb} the ${stage} stage`;
    },
  };
}

export function applyStacks(run: ApplyRun): ApplyStep {
  return {
    title: `${run.opts.destroy ? 'Destroy' : 'Apply'} the ${run.stage} stacks`,
    enabled: () => !run.opts.dryRun,
    skip: (ctx) => (hasWork(run.result(ctx)) ? false : 'Nothing to change'),
    task: (ctx, task) => {
      const result = run.result(ctx);
      const all = [...result.orphans, ...result.stacks];
      const applied = new Map(all.map((s) => [s.name, deferred<void>()]));
      const order = run.opts.destroy ? [...all].reverse() : all;
      const hasChanges = (s: SynthStack) => result.deferred.includes(s.name) || (result.plans[s.name] !== undefined && !result.plans[s.name]!.empty);
      for (const stack of order) if (!hasChanges(stack)) applied.get(stack.name)!.resolve();
      return task.newListr(
        order.filter(hasChanges).map((stack) => ({ title: stack.name, task: (_ctx: ApplyContext, sub: SubTask) => applyStack(run, result, stack, applied, sub) })),
        { concurrent: run.opts.concurrency ?? 2, exitOnError: true },
      );
    },
  };
}

/**
 * Applies wait for dependencies, and for the orphans to go first (a new host may take an old
 * one's address or VMID); destroys wait for the stacks that depend on them.
 */
function waitsFor(run: ApplyRun, result: StageApplyResult, stack: SynthStack): string[] {
  const all = [...result.orphans, ...result.stacks];
  if (run.opts.destroy) return all.filter((other) => other.dependsOn.includes(stack.name)).map((s) => s.name);
  return result.orphans.includes(stack) ? [] : [...stack.dependsOn, ...result.orphans.map((o) => o.name)];
}

async function applyStack(run: ApplyRun, result: StageApplyResult, stack: SynthStack, applied: Map<string, Deferred<void>>, sub: SubTask): Promise<void> {
  const done = applied.get(stack.name)!;
  try {
    for (const name of waitsFor(run, result, stack)) {
      sub.title = `${stack.name}: waiting for ${name}`;
      await applied.get(name)!.promise.catch(() => {
        throw new HomeprodError(`${stack.name}: not ${run.opts.destroy ? 'destroyed' : 'applied'}, because ${name} failed`);
      });
    }
    const log = taskLog(sub, stack.name);
    let plan = result.plans[stack.name];
    if (!plan) {
      // Deferred until its dependencies were applied: planned now, and gated like the others.
      sub.title = `${stack.name}: planning`;
      await run.tf.init(stack, log);
      plan = await run.tf.plan(stack, {}, log);
      result.plans[stack.name] = plan;
      const error = run.opts.allowDataLoss ? null : dataLossError([plan], stack.name);
      if (error) throw error;
    }
    const destroying = run.opts.destroy || result.orphans.includes(stack);
    if (!plan.empty) {
      sub.title = `${stack.name}: ${destroying ? 'destroying' : 'applying'} (${planLine(plan)})`;
      await run.tf.apply(stack, plan, log);
      result.changed = true;
    }
    sub.title = `${stack.name}: ${plan.empty ? 'no changes' : `${destroying ? 'destroyed' : 'applied'} (${planLine(plan)})`}`;
    done.resolve();
  } catch (error) {
    done.reject(error);
    throw error;
  }
}

export function recordAppliedStacks(run: ApplyRun): ApplyStep {
  return {
    title: `Record the applied ${run.stage} stacks`,
    enabled: () => !run.opts.dryRun,
    task: async (ctx, task) => {
      const result = run.result(ctx);
      const record = run.appliedStacks(ctx);
      // Kept data stacks of a destroy stay recorded; everything else planned is now as planned.
      const destroyed = [...result.orphans, ...(run.opts.destroy ? result.stacks.filter((s) => !run.kept(s)) : [])].map((s) => s.name);
      const changed = Object.entries(result.plans).filter(([, plan]) => !plan.empty).map(([name]) => name);
      await record.update(run.opts.destroy ? [] : result.stacks, destroyed, changed);
      // Synthesis never writes these again; their configuration was only kept to destroy them.
      for (const stack of result.orphans) rmSync(stack.dir, { recursive: true, force: true });
      task.title = `Recorded the applied ${run.stage} stacks in ${record.where}`;
    },
  };
}

export function readHostOutputs(run: ApplyRun): ApplyStep {
  const { stage } = run;
  return {
    title: `Read the ${stage} host outputs`,
    enabled: () => !run.opts.destroy,
    task: async (ctx, task) => {
      const result = run.result(ctx);
      const outputs = [];
      for (const stack of result.stacks.filter((s) => s.kind === 'vm')) {
        await run.tf.init(stack);
        const output = await run.tf.hostOutput(stack);
        if (output === null) {
          if (run.opts.dryRun) continue;
          throw new HomeprodError(`${stack.name}: no "host" output after apply`, EXIT.failed, 'every VM stack must output `host` (HostOutput in tasks/lib/model/types.ts)');
        }
        if (output.stage !== stage) throw new HomeprodError(`${stack.name}: output "host" says stage "${output.stage}", expected "${stage}"`);
        outputs.push(output);
      }
      result.outputs = outputs.sort((a, b) => a.name.localeCompare(b.name));
      task.title = `Read ${plural(outputs.length, `${stage} host output`)}`;
    },
  };
}
