// What the plans of a stage do to each host's machines: its VM (the platform's machine resource
// in the host's VM stack) and its data VM are created, replaced, updated in place or destroyed,
// or the VM is planned only once the data disks it attaches are applied. Read after the plans
// and before anything is applied, so the promotion gate can say it per host.
import { hostOfStack, type Site, type StageName } from '../model';
import { platformOf } from '../platform';
import type { StageApplyResult } from './index';
import type { ChangeAction, PlanSummary } from './plan';

/** `later`: a VM stack that already exists, planned once its data stack is applied. */
export type MachineAction = 'create' | 'replace' | 'update' | 'destroy' | 'later' | 'none';

export interface MachinePlan {
  host: string;
  vm: MachineAction;
  /** `none` also for a host without data disks. */
  data: MachineAction;
}

/**
 * One action for what a plan does to a set of resources: any replacement replaces; only
 * creations (nothing there yet) create; only deletions of everything destroy; anything else
 * changes what is there in place.
 */
export function actionOfAll(actions: readonly ChangeAction[]): MachineAction {
  const acting = actions.filter((a) => a !== 'no-op' && a !== 'read');
  if (acting.length === 0) return 'none';
  if (acting.includes('replace')) return 'replace';
  if (actions.every((a) => a === 'create')) return 'create';
  if (actions.every((a) => a === 'delete')) return 'destroy';
  return 'update';
}

/** The machine resource decides; when it stays but something else of its stack changes (a file it reads), the VM is updated. */
function vmAction(plan: PlanSummary, machineType: string): MachineAction {
  const all = actionOfAll(plan.resources.map((r) => r.action));
  const machine = plan.resources.filter((r) => r.type === machineType);
  if (machine.length === 0) return all;
  const own = actionOfAll(machine.map((r) => r.action));
  return own === 'none' && all !== 'none' ? 'update' : own;
}

/** Every host of the stage whose VM or data VM a plan changes (hosts that left the site too), in stack order. */
export function machinePlans(site: Pick<Site, 'stages'>, stage: StageName, result: StageApplyResult): MachinePlan[] {
  const machineType = platformOf(site.stages[stage]).machineResourceType;
  const hosts = new Map<string, MachinePlan>();
  const entry = (stack: string) => {
    const host = hostOfStack(stack);
    if (!hosts.has(host)) hosts.set(host, { host, vm: 'none', data: 'none' });
    return hosts.get(host)!;
  };
  for (const stack of [...result.orphans, ...result.stacks]) {
    const plan = result.plans[stack.name];
    const machine = entry(stack.name);
    if (stack.kind === 'data') machine.data = plan ? actionOfAll(plan.resources.map((r) => r.action)) : 'none';
    // Deferred: its data stack changes first. A VM stack never applied is created; one that was, Terraform plans then.
    else if (result.deferred.includes(stack.name)) machine.vm = result.recorded.includes(stack.name) ? 'later' : 'create';
    else machine.vm = plan ? vmAction(plan, machineType) : 'none';
  }
  return [...hosts.values()].filter((h) => h.vm !== 'none' || h.data !== 'none');
}
