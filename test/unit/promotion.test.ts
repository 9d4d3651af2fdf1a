import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model';
import { checkPromotion, contentSnapshot, forgetConfigured, readRecord, recordConfigured, recordVerified, shortSummary, stageFacts } from '../../tasks/lib/promote';
import { fileStore } from '../../tasks/lib/shared/store';

describe('lab → prod promotion', () => {
  const root = mkdtempSync(join(tmpdir(), 'homeprod-promo-'));
  cpSync('templates', join(root, 'templates'), { recursive: true });
  const files = fileStore(join(root, '.state'));
  const stores = () => files;
  const site = loadSite('inventory/site.yaml');
  const facts = stageFacts(site, 'prod');

  it('refuses prod before lab verified, allows exactly the content lab verified, refuses a change', async () => {
    const snapshot = contentSnapshot(site, root);
    expect(await checkPromotion(snapshot, stores, facts)).toMatchObject({ allowed: false, reason: 'nothing has verified in lab yet' });

    await recordVerified(stores, 'lab', snapshot);
    expect(await checkPromotion(contentSnapshot(site, root), stores, facts)).toMatchObject({ allowed: true });

    writeFileSync(join(root, 'templates', 'extra.njk'), 'changed after lab verified\n');
    const changed = contentSnapshot(site, root);
    expect(changed.hash).not.toBe(snapshot.hash);
    const check = await checkPromotion(changed, stores, facts);
    expect(check.allowed).toBe(false);
    expect(check.reason).toContain('templates/extra.njk');
  });

  it('sees a change of the site model, and lists what changes in prod since its last good run', async () => {
    const before = contentSnapshot(site, root);
    await recordVerified(stores, 'prod', before, facts);
    const more = { ...site, services: [...site.services, { ...site.services[0]!, name: 'another' }] };
    const after = contentSnapshot(more, root);
    await recordVerified(stores, 'lab', after);
    const { summary, ...check } = await checkPromotion(after, stores, stageFacts(more, 'prod'));
    expect(check).toEqual({ allowed: true, changes: ['site'] });
    expect(shortSummary(summary)).toBe('1 service added (another: whoami.pegasuspad.com → prod-whoami:8080), 0 changed, 0 removed; no hosts change');
  });
});

describe('forgetConfigured (local clean)', () => {
  it('forgets that stages were configured and keeps what verified', async () => {
    const root = mkdtempSync(join(tmpdir(), 'homeprod-forget-'));
    const files = fileStore(root);
    const stores = () => files;
    const snapshot = { hash: 'h', files: {} };
    await recordVerified(stores, 'lab', snapshot);
    await recordConfigured(stores, 'prod', snapshot);
    expect(forgetConfigured(root)).toEqual(['lab', 'prod']);
    expect([await readRecord(stores, 'run', 'lab'), await readRecord(stores, 'run', 'prod')]).toEqual([null, null]);
    expect((await readRecord(stores, 'verified', 'lab'))?.hash).toBe('h');
    expect(forgetConfigured(root)).toEqual([]);
  });
});
