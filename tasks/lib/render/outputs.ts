// Terraform outputs as render reads them: the `host` output of every VM stack (HostOutput),
// validated, plus the one derivation of those outputs from the model for when no stack has
// been applied yet. The stacks define their outputs to equal `expectedOutputs`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EXIT, HomeprodError } from '../ui/errors';
import { HostOutputSchema } from '../model/host-output';
import { type HostOutput, type Site, type StageName } from '../model/types';

export { HostOutputSchema };

/** `terraform output -json` of one stack: { host: { value: HostOutput, ... } }. */
const StackOutputsSchema = z.looseObject({ host: z.looseObject({ value: z.unknown() }) });

/**
 * Validates outputs in either shape: a HostOutput[] (what the terraform runner returns), or an
 * object of stack name → that stack's `terraform output -json` (what a recording holds).
 * `source` names the file or origin in error messages.
 */
export function parseOutputs(data: unknown, source: string): HostOutput[] {
  const entries: Array<{ path: string; value: unknown }> = Array.isArray(data)
    ? data.map((value, i) => ({ path: `[${i}]`, value }))
    : typeof data === 'object' && data !== null
      ? Object.entries(data).map(([stack, outputs]) => {
          const parsed = StackOutputsSchema.safeParse(outputs);
          if (!parsed.success) throw new HomeprodError(`${source}: ${stack}: has no "host" output with a value`);
          return { path: `${stack}.host.value`, value: parsed.data.host.value };
        })
      : [];
  if (!Array.isArray(data) && (typeof data !== 'object' || data === null)) {
    throw new HomeprodError(`${source}: expected a list of host outputs or an object of stack outputs`);
  }
  const hosts = entries.map(({ path, value }) => {
    const parsed = HostOutputSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const details = parsed.error.issues.map((issue) => `${path}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
    throw new HomeprodError(`${source}: invalid host output`, EXIT.failed, undefined, details);
  });
  const seen = new Set<string>();
  for (const host of hosts) {
    if (seen.has(host.name)) throw new HomeprodError(`${source}: host "${host.name}" appears twice`);
    seen.add(host.name);
  }
  return hosts;
}

export function readOutputsFile(file: string): HostOutput[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new HomeprodError(`cannot read outputs file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.usage);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new HomeprodError(`${file} is not JSON: ${(error as Error).message}`);
  }
  return parseOutputs(data, file);
}

/**
 * The HostOutputs the stacks of `stage` produce once applied, derived from the model. Hosts
 * without a static address cannot be derived (their address is only known after apply).
 */
export function expectedOutputs(site: Site, stage: StageName): HostOutput[] {
  return site.hosts
    .filter((host) => host.stage === stage)
    .map((host) => {
      if (host.ipv4 === null) {
        throw new HomeprodError(`host "${host.name}" takes its address by DHCP, so it is only known from terraform outputs`, EXIT.usage, 'pass --outputs FILE');
      }
      return {
        name: host.name,
        stage: host.stage,
        roles: [...host.roles],
        ipv4: host.ipv4,
        vmid: host.vmid,
        mac: host.mac,
        data_disks: host.dataDisks.map((disk) => ({ label: disk.label, mountpoint: disk.mountpoint, read_only: disk.readOnly, interface: disk.interface })),
      };
    });
}
