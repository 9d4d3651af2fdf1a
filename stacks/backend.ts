// Where each stack keeps its Terraform state, per stage: a local file outside cdktf.out (so a
// re-synth never touches state), or PostgreSQL with one schema per stack. Connection details
// for pg come only from the standard PG* environment at run time, never from the JSON.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBackend, PgBackend, type PgBackendConfig, type TerraformStack } from 'cdktn';
import type { Stage } from '../tasks/lib/model/types';

export function localStatePath(stateDir: string, stage: string, stack: string): string {
  return join(stateDir, stage, `${stack}.tfstate`);
}

/** `<schemaPrefix><stack>` with dashes as underscores: a valid unquoted PostgreSQL name. */
export function pgSchemaName(schemaPrefix: string, stack: string): string {
  return `${schemaPrefix}${stack}`.replace(/-/g, '_');
}

/** Creates <stateDir>/<stage> (0700; state holds secrets) and returns it. */
export function ensureStateDir(stateDir: string, stage: string): string {
  const dir = join(stateDir, stage);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  chmodSync(dir, 0o700);
  return dir;
}

export function configureBackend(stack: TerraformStack, stage: Stage, stateDir: string): void {
  const name = stack.node.id;
  if (stage.state.backend === 'local') {
    new LocalBackend(stack, { path: localStatePath(stateDir, stage.name, name) });
  } else {
    // conn_str is optional for Terraform's pg backend (PG_CONN_STR / PGHOST, PGUSER, ... are
    // read instead); cdktn's type insists on it, so it is left out on purpose here.
    new PgBackend(stack, { schemaName: pgSchemaName(stage.state.schemaPrefix, name) } as PgBackendConfig);
  }
}
