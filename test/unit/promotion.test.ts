import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model';
import { checkPromotion, contentSnapshot, forgetConfigured, readRecord, recordConfigured, recordVerified } from '../../tasks/lib/promote';

describe('lab → prod promotion', () => {
  const root = mkdtempSync(join(tmpdir(), 'homeprod-promo-'));
  cpSync('templates', join(root, 'templates'), { recursive: true });
  const env = { HOMEPROD_STATE_ROOT: join(root, '.state') };
  const site = loadSite('inventory/site.yaml');

  it('refuses prod before lab verified, allows exactly the content lab verified, refuses a change', () => {
    const snapshot = contentSnapshot(site, root);
    expect(checkPromotion(snapshot, env)).toMatchObject({ allowed: false, reason: 'nothing has verified in lab yet' });

    recordVerified('lab', snapshot, env);
    expect(checkPromotion(contentSnapshot(site, root), env)).toMatchObject({ allowed: true });

    writeFileSync(join(root, 'templates', 'extra.njk'), 'changed after lab verified\n');
    const changed = contentSnapshot(site, root);
    expect(changed.hash).not.toBe(snapshot.hash);
    const check = checkPromotion(changed, env);
    expect(check.allowed).toBe(false);
    expect(check.reason).toContain('templates/extra.njk');
  });

  it('sees a change of the site model, and lists what changes in prod since its last good run', () => {
    const before = contentSnapshot(site, root);
    recordVerified('prod', before, env);
    const more = { ...site, services: [...site.services, { ...site.services[0]!, name: 'another' }] };
    const after = contentSnapshot(more, root);
    recordVerified('lab', after, env);
    expect(checkPromotion(after, env)).toEqual({ allowed: true, changes: ['site'] });
  });
});

describe('forgetConfigured (local clean)', () => {
  it('forgets that stages were configured and keeps what verified', () => {
    const root = mkdtempSync(join(tmpdir(), 'homeprod-forget-'));
    const env = { HOMEPROD_STATE_ROOT: root };
    const snapshot = { hash: 'h', files: {} };
    recordVerified('lab', snapshot, env);
    recordConfigured('prod', snapshot, env);
    expect(forgetConfigured(root)).toEqual(['lab', 'prod']);
    expect([readRecord('run', 'lab', env), readRecord('run', 'prod', env)]).toEqual([null, null]);
    expect(readRecord('verified', 'lab', env)?.hash).toBe('h');
    expect(forgetConfigured(root)).toEqual([]);
  });
});
