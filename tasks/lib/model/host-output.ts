// The output contract every VM stack honours (output `host`), as a schema: the terraform
// runner validates what a stack returns, render validates recorded outputs, with this one.
import { z } from 'zod';
import { isIpv4 } from './schema';
import { ROLES, STAGES } from './types';

export const HostOutputSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'is not a host name' }),
  stage: z.enum(STAGES),
  roles: z.array(z.enum(ROLES)),
  ipv4: z.string().refine(isIpv4, { error: 'is not an IPv4 address' }),
  vmid: z.number().int().positive(),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, { error: 'is not a MAC address' }),
  data_disks: z.array(
    z.strictObject({
      label: z.string().min(1),
      mountpoint: z.string().startsWith('/', { error: 'must be an absolute path' }),
      read_only: z.boolean(),
      interface: z.string(),
    }),
  ),
});
