import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlKey } from '../../tasks/lib/shared/keys';

describe('control node keys', () => {
  it('are made once per stage, private key 0600 in a 0700 directory', async () => {
    const env = { HOMEPROD_STATE_ROOT: mkdtempSync(join(tmpdir(), 'homeprod-keys-')) };
    const first = await controlKey('lab', env);
    const again = await controlKey('lab', env);
    const prod = await controlKey('prod', env);
    expect(again.publicKey).toBe(first.publicKey);
    expect(prod.publicKey).not.toBe(first.publicKey);
    expect(first.publicKey).toMatch(/^ssh-ed25519 \S+ homeprod-lab-control$/);
    expect(statSync(first.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.HOMEPROD_STATE_ROOT, 'keys')).mode & 0o777).toBe(0o700);
  });
});
