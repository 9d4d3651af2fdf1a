// Plans as homeprod reads them: `terraform show -json` summarized per stack, one line per stack
// for people, and the gate that stops every apply before a data disk or data VM would be lost.
import { EXIT, HomeprodError } from '../ui/errors';
import type { StackRef } from './terraform';

export type ChangeAction = 'create' | 'update' | 'delete' | 'replace' | 'read' | 'no-op';

export interface ResourceChange {
  stack: string;
  address: string;
  type: string;
  action: ChangeAction;
  /** The resource is (part of) a data disk or data VM: deleting it loses data. */
  data: boolean;
}

export interface PlanSummary {
  stack: string;
  /** Absolute path of the saved plan, applied as-is by `apply()`. */
  planFile: string;
  destroy: boolean;
  add: number;
  change: number;
  remove: number;
  outputsChanged: boolean;
  /** Resources to be deleted or replaced (all of them, data or not). */
  removals: ResourceChange[];
  /** The subset of `removals` that would lose data. */
  dataLoss: ResourceChange[];
  /** Every managed resource and what the plan does with it (no-op too): what a host's machine undergoes. */
  resources: Array<Pick<ResourceChange, 'address' | 'type' | 'action'>>;
  /** Nothing to do: no resource or output changes. */
  empty: boolean;
}

interface PlanJson {
  resource_changes?: Array<{ address: string; mode: string; type: string; change: { actions: string[] } }>;
  output_changes?: Record<string, { actions: string[] }>;
}

export function actionOf(actions: string[]): ChangeAction {
  const key = actions.join(',');
  if (key === 'delete,create' || key === 'create,delete') return 'replace';
  if (key === 'create' || key === 'update' || key === 'delete' || key === 'read' || key === 'no-op') return key;
  // Terraform 1.x also knows "forget" (removed blocks): nothing is destroyed.
  return 'no-op';
}

/**
 * Which resources own data. Everything managed in a data stack is the data VM / disk
 * itself; in a VM stack nothing is, since the data lives outside the bootable VM.
 */
export function isDataResource(stack: Pick<StackRef, 'kind'>, change: { mode: string; type: string }): boolean {
  return stack.kind === 'data' && change.mode === 'managed';
}

export function summarizePlan(
  json: unknown,
  meta: { stack: string; planFile: string; destroy: boolean; isData: (change: { mode: string; type: string; address: string }) => boolean },
): PlanSummary {
  const plan = json as PlanJson;
  let add = 0;
  let change = 0;
  let remove = 0;
  const removals: ResourceChange[] = [];
  const resources: PlanSummary['resources'] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode !== 'managed') continue;
    const action = actionOf(rc.change.actions);
    resources.push({ address: rc.address, type: rc.type, action });
    if (action === 'create' || action === 'replace') add++;
    if (action === 'update') change++;
    if (action === 'delete' || action === 'replace') {
      remove++;
      removals.push({ stack: meta.stack, address: rc.address, type: rc.type, action, data: meta.isData(rc) });
    }
  }
  const outputsChanged = Object.values(plan.output_changes ?? {}).some((o) => actionOf(o.actions) !== 'no-op');
  return {
    stack: meta.stack,
    planFile: meta.planFile,
    destroy: meta.destroy,
    add,
    change,
    remove,
    outputsChanged,
    removals,
    dataLoss: removals.filter((r) => r.data),
    resources,
    empty: add + change + remove === 0 && !outputsChanged,
  };
}

/** A stage's plans summed, as in the confirmation: "2 to add, 0 to change, 1 to destroy" (and the stacks planned later). */
export function plansLine(plans: PlanSummary[], deferred: number): string {
  const [add, change, remove] = (['add', 'change', 'remove'] as const).map((k) => plans.reduce((n, p) => n + p[k], 0));
  const later = deferred ? `, and plan ${deferred} more stack${deferred === 1 ? '' : 's'} once their dependencies exist` : '';
  return `${add} to add, ${change} to change, ${remove} to destroy${later}`;
}

/** One line per stack, the way terraform says it. */
export function planLine(plan: PlanSummary): string {
  if (plan.empty) return 'no changes';
  if (plan.add + plan.change + plan.remove === 0) return 'outputs change only';
  const parts = [`${plan.add} to add`, `${plan.change} to change`, `${plan.remove} to destroy`];
  const data = plan.dataLoss.length ? ` (${plan.dataLoss.length} with data!)` : '';
  return parts.join(', ') + data;
}

/** The gate: a HomeprodError naming every data resource a set of plans would delete or replace. */
export function dataLossError(plans: PlanSummary[], what: string): HomeprodError | null {
  const losses = plans.flatMap((p) => p.dataLoss);
  if (losses.length === 0) return null;
  return new HomeprodError(
    `refusing to apply ${what}: the plan would ${losses.some((l) => l.action === 'replace') ? 'destroy or replace' : 'destroy'} data (nothing was applied)`,
    EXIT.refused,
    'pass --allow-data-loss if losing the data on these disks is intended',
    losses.map((l) => `${l.stack}: ${l.address} would be ${l.action === 'replace' ? 'replaced' : 'destroyed'}`),
  );
}
