import { describe, expect, it } from '@jest/globals';
import { Listr } from 'listr2';
import { $ } from 'zx';

describe('toolchain', () => {
  it('loads ESM-only packages and runs a listr2 task under jest', async () => {
    const seen: string[] = [];
    await new Listr([{ title: 'one', task: () => { seen.push('one'); } }], { renderer: 'silent' }).run();
    const out = await $`echo hi`.quiet();
    expect(seen).toEqual(['one']);
    expect(out.stdout.trim()).toBe('hi');
  });
});
