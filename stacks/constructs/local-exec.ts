// The contract between local-platform stacks and tasks/local.ts: Terraform runs the CLI from
// the project root (three levels above cdktf.out/stacks/<stack>) with the resource's own input,
// JSON-encoded, in one environment variable; destroy sees exactly what was applied.
import type { LocalExecProvisioner } from 'cdktn';

/** cdktf.out/stacks/<stack> → project root. */
export const STACK_DIR_TO_ROOT = '../../..';

export function localExec(envName: string, noun: 'vm' | 'disk'): LocalExecProvisioner[] {
  const environment = { [envName]: '${jsonencode(self.input)}' };
  const base = 'npx --no-install tsx tasks/local.ts';
  return [
    { type: 'local-exec', command: `${base} ${noun} create`, workingDir: STACK_DIR_TO_ROOT, environment },
    { type: 'local-exec', when: 'destroy', command: `${base} ${noun} destroy`, workingDir: STACK_DIR_TO_ROOT, environment },
  ];
}
