// Hand-written stacks for the runner's tests: the same shape synthStage writes
// (<outdir>/stacks/<stack>/cdk.tf.json), built only from terraform_data so they run offline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostOutput } from '../../tasks/lib/model/types';

export interface TestStack {
  name: string;
  kind: 'vm' | 'data';
  dependsOn: string[];
  /** Resources: name → input; a changed input replaces nothing (terraform_data updates in place). */
  resources: Record<string, unknown>;
  /** Resource name → value of triggers_replace; changing it replaces the resource. */
  triggers?: Record<string, string>;
  host?: HostOutput;
  /** A file each resource's create provisioner appends its name to (proves the order). */
  journal?: string;
  backend?: Record<string, unknown>;
  /** lifecycle.prevent_destroy on every resource, as data stacks have by default. */
  preventDestroy?: boolean;
}

export function writeTestStack(outdir: string, stack: TestStack): { name: string; kind: 'vm' | 'data'; dir: string; dependsOn: string[] } {
  const dir = join(outdir, 'stacks', stack.name);
  mkdirSync(dir, { recursive: true });
  const resources = Object.fromEntries(
    Object.entries(stack.resources).map(([name, input]) => [
      name,
      {
        input,
        ...(stack.triggers?.[name] ? { triggers_replace: stack.triggers[name] } : {}),
        ...(stack.journal
          ? {
              provisioner: [
                { 'local-exec': { command: 'echo "+$NAME" >> "$JOURNAL"', environment: { NAME: `${stack.name}.${name}`, JOURNAL: stack.journal } } },
                { 'local-exec': { when: 'destroy', command: 'echo "-$NAME" >> "$JOURNAL"', environment: { NAME: `${stack.name}.${name}`, JOURNAL: stack.journal } } },
              ],
            }
          : {}),
        ...(stack.preventDestroy ? { lifecycle: { prevent_destroy: true } } : {}),
      },
    ]),
  );
  const config = {
    terraform: { backend: stack.backend ?? { local: { path: join(outdir, `terraform.${stack.name}.tfstate`) } } },
    resource: { terraform_data: resources },
    ...(stack.host ? { output: { host: { value: stack.host } } } : {}),
  };
  writeFileSync(join(dir, 'cdk.tf.json'), `${JSON.stringify(config, null, 2)}\n`);
  return { name: stack.name, kind: stack.kind, dir, dependsOn: stack.dependsOn };
}

export function testHost(name: string, ipv4: string, vmid: number, disks: HostOutput['data_disks'] = []): HostOutput {
  return { name, stage: 'lab', roles: ['application'], ipv4, vmid, mac: `02:00:00:00:00:${(vmid % 100).toString().padStart(2, '0')}`, data_disks: disks };
}
