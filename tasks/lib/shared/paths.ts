// Where the project and the pipeline's state live; every layer derives its files from these.
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The pipeline's state root: <project>/.state unless HOMEPROD_STATE_ROOT. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.HOMEPROD_STATE_ROOT || join(PROJECT_ROOT, '.state'));
}

/** Terraform's local state, <stage>/<stack>.tfstate, under a state root. */
export const tfStateDir = (root: string) => join(root, 'terraform');

/** The SSH host keys homeprod made for a stage's VMs (see host-keys.ts), and their known_hosts. */
export const hostKeysDir = (root: string, stage: string) => join(root, 'hostkeys', stage);

/** Cloud-init snippets that hold secrets (host private keys), written 0600 and uploaded from here. */
export const snippetsDir = (root: string, stage: string) => join(root, 'snippets', stage);

/** What `up` last rendered for a stage: the configs its hosts were last configured with. */
export const renderedDir = (root: string, stage: string) => join(root, 'rendered', stage);
