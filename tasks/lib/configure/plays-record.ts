// The stage's record of what each play last ran with on each host, in the stage's store (a
// file under the state root, or PostgreSQL with the pg backend, so every checkout selects from
// what the hosts really got). Written only after a playbook run that succeeded.
import { AppliedStacks } from '../apply/applied-stacks';
import { hostOfStack } from '../model';
import type { StageName } from '../model/types';
import type { Stores } from '../shared/store';
import type { PartInputs } from './inputs';
import type { PlaysRecord } from './selection';

const isPlaysRecord = (value: unknown): value is PlaysRecord =>
  typeof value === 'object' && value !== null && typeof (value as PlaysRecord).at === 'string' && typeof (value as PlaysRecord).inputs === 'object' && (value as PlaysRecord).inputs !== null;

/** The record, or null (none, or one this version cannot read: then everything runs). */
export async function readPlaysRecord(stores: Stores, stage: StageName): Promise<PlaysRecord | null> {
  const store = stores(stage);
  let value: unknown;
  try {
    value = await store.read(stage, 'plays');
  } catch (error) {
    if (store.shared) throw error;
    return null;
  }
  return isPlaysRecord(value) ? value : null;
}

export async function writePlaysRecord(stores: Stores, stage: StageName, inputs: PartInputs, machines: Record<string, string>): Promise<void> {
  const record: PlaysRecord = { at: new Date().toISOString(), inputs, machines };
  await stores(stage).write(stage, 'plays', record);
}

/**
 * host → when an apply last changed its VM and data VM stacks (the record of applied stacks), so
 * a machine created or replaced since the plays record was written gets every play, whichever
 * task applied it (up, or apply then configure).
 */
export async function machinesOf(stores: Stores, stage: StageName): Promise<Record<string, string>> {
  const machines: Record<string, string> = {};
  for (const stack of await new AppliedStacks(stores(stage), stage).list()) {
    const host = hostOfStack(stack.name);
    machines[host] = [machines[host], `${stack.kind}:${stack.appliedAt ?? ''}`].filter(Boolean).sort().join(' ');
  }
  return machines;
}
