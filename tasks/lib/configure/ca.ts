// The stage CA's certificate on this machine: configure fetches it, verify trusts it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StageName } from '../model/types';
import { stateRoot } from '../shared/paths';

/** Where the stage CA's certificate is kept on this machine (verify trusts it). */
export function caCertFile(stage: StageName, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'tls', `${stage}-ca.pem`);
}

/** Whether a previous configure left a CA certificate for the stage. */
export const hasCaCert = (stage: StageName, env: NodeJS.ProcessEnv = process.env) => existsSync(caCertFile(stage, env));
