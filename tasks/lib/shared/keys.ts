// SSH key pairs the pipeline owns: per stage, the control node's key (authorized on every VM
// of the stage, copied onto the control node's data disk by the control_node role).
// Private keys are created 0600 inside a 0700 directory and never printed.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateRoot } from './paths';
import { $ } from 'zx';
import type { StageName } from '../model/types';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** Creates an ed25519 key pair at `path` unless it exists; a killed run leaves no half pair. */
export async function ensureKeyPair(path: string, comment: string, passphrase = ''): Promise<KeyPair> {
  if (!existsSync(path) || !existsSync(`${path}.pub`)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.pub`, { force: true });
    await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${passphrase} -C ${comment} -f ${tmp}`;
    chmodSync(tmp, 0o600);
    renameSync(`${tmp}.pub`, `${path}.pub`);
    renameSync(tmp, path);
  }
  return { privateKey: path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** The stage control node's key pair (.state/keys/<stage>-control). */
export function controlKey(stage: StageName, env: NodeJS.ProcessEnv = process.env): Promise<KeyPair> {
  return ensureKeyPair(controlKeyPath(stage, env), `homeprod-${stage}-control`);
}

/** Where the stage control node's private key is (made by controlKey). */
export const controlKeyPath = (stage: StageName, env: NodeJS.ProcessEnv = process.env) => join(stateRoot(env), 'keys', `${stage}-control`);
