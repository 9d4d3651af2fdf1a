// The promotion gate's question, answered from a script: the summary of what prod gets above
// it (with prod's plans: what Terraform does to each host), a rendered config diff per host on
// request (then the question again), promote or decline;
// --yes puts the short summary in the title, and without a terminal the refusal names it.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite } from '../../tasks/lib/model';
import type { Site } from '../../tasks/lib/model/types';
import { fitted } from '../../tasks/lib/promote/promotion-step';
import { promotionGate, readRecord, recordVerified, stageFacts, type PromoteContext, type PromoteOptions } from '../../tasks/lib/promote';
import { summarizePlan } from '../../tasks/lib/apply/plan';
import { expectedOutputs, render } from '../../tasks/lib/render';
import { renderedDir } from '../../tasks/lib/shared/paths';
import { fileStore } from '../../tasks/lib/shared/store';
import { createList } from '../../tasks/lib/ui/listr';
import { scriptedPrompter, type ScriptedAnswer } from '../../tasks/lib/ui/prompts';

const site = loadSite('inventory/site.yaml');
const whoami = site.services.find((s) => s.name === 'whoami')!;
const added = { ...whoami, name: 'whoami2', hostnames: ['whoami2.pegasuspad.com'], certificate: 'whoami2.pegasuspad.com' };
const next: Site = { ...site, services: [...site.services, added] };
const SHORT = '1 service added (whoami2: whoami2.pegasuspad.com → prod-whoami:8080), 0 changed, 0 removed; no hosts change';

/** Prod last ran `site` (record and render), lab verified `next`. */
async function promotion() {
  const root = mkdtempSync(join(tmpdir(), 'homeprod-gate-'));
  const files = fileStore(root);
  const stores = () => files;
  const before = { hash: 'before', files: { site: 'before' } };
  const after = { hash: 'after', files: { site: 'after' } };
  await recordVerified(stores, 'prod', before, stageFacts(site, 'prod'));
  await recordVerified(stores, 'lab', after, stageFacts(next, 'lab'));
  render(site, 'prod', expectedOutputs(site, 'prod'), { outDir: renderedDir(root, 'prod'), ownDir: true });
  const ctx: PromoteContext = { site: next, outputs: expectedOutputs(next, 'prod'), runs: { prod: { snapshot: after, unchanged: false } } };
  const env = { HOMEPROD_STATE_ROOT: root };
  return { ctx, env, stores, prodRecord: () => readRecord(stores, 'run', 'prod') };
}

/** Runs the gate; every question is answered from `script`, and what was shown above it is kept. */
async function runGate(opts: Partial<PromoteOptions>, script?: ScriptedAnswer[], applied?: PromoteContext['applied']) {
  const { ctx, env, stores } = await promotion();
  if (applied) ctx.applied = applied;
  const prompter = scriptedPrompter(script ?? []);
  const shown: string[] = [];
  const offered: string[][] = [];
  const choose: PromoteOptions['choose'] = async (task, question) => {
    shown.push(String(task.output));
    offered.push(question.choices.map((c) => c.value));
    return prompter.select(question);
  };
  const list = createList([promotionGate({ yes: false, dryRun: false, force: false, env, stores, ...(script ? { choose } : {}), ...opts })], { silent: true });
  const error = await list.run(ctx).then(() => null, (e: Error) => e);
  return { error, title: list.tasks[0]!.title, asked: prompter.asked, shown, offered, ctx };
}

/** Prod's plans: Terraform leaves every host as it is, or (`replaced`) replaces prod-proxy's machine. */
function prodPlans(replaced: boolean): PromoteContext['applied'] {
  const names = site.hosts.filter((h) => h.stage === 'prod').flatMap((h) => [h.stackName, ...(h.dataStackName ? [h.dataStackName] : [])]);
  const planOf = (stack: string) => summarizePlan(
    { resource_changes: [{ address: 'terraform_data.vm', mode: 'managed', type: 'terraform_data', change: { actions: replaced && stack === 'prod-proxy-vm' ? ['delete', 'create'] : ['no-op'] } }] },
    { stack, planFile: `/plans/${stack}`, destroy: false, isData: () => false },
  );
  const stacks = names.map((name) => ({ name, kind: name.endsWith('-data-vm') ? ('data' as const) : ('vm' as const), dir: `/stacks/${name}`, dependsOn: [] }));
  return { prod: { stacks, orphans: [], keptOrphans: [], recorded: names, plans: Object.fromEntries(names.map((n) => [n, planOf(n)])), deferred: [], changed: false, outputs: [] } };
}

const CHANGES = 'Rendered config changes on: inventory (1 file), prod-proxy (2 files), prod-proxy-passthrough (2 files)';
const SUMMARY = ['Prod gets, compared with its last run:', '+ service whoami2: whoami2.pegasuspad.com → prod-whoami:8080'];

describe('the promotion question', () => {
  it('shows the summary and the hosts whose config changes; a host diff on request, then asks again; promote', async () => {
    const r = await runGate({}, ['diff:prod-proxy', 'promote']);
    expect(r.error).toBeNull();
    expect(r.asked).toEqual(['Promote to prod?', 'Promote to prod?']);
    expect(r.offered[0]).toEqual(['promote', 'diff:inventory', 'diff:prod-proxy', 'diff:prod-proxy-passthrough', 'decline']);
    expect(r.shown[0]).toBe([...SUMMARY, CHANGES].join('\n'));
    const diff = r.shown[1]!.split('\n');
    expect(diff.slice(0, 3)).toEqual([...SUMMARY, CHANGES]);
    expect(diff).toContainEqual(expect.stringMatching(/^--- a\/prod-proxy\/nginx\/\S+$/));
    expect(diff).toContainEqual(expect.stringMatching(/^\+\+\+ b\/prod-proxy\/nginx\/\S+$/));
    expect(diff).toContainEqual(expect.stringMatching(/^\+.*whoami2\.pegasuspad\.com/));
    expect(diff.join('\n')).not.toContain('prod-proxy-passthrough/');
    expect(r.title).toBe(`Promoted to prod: ${SHORT}`);
  });

  it("after prod's plans: says what Terraform does to each host, asks even when it has nothing to do, and the answer confirms the apply", async () => {
    const nothing = await runGate({}, ['promote'], prodPlans(false));
    expect(nothing.asked).toEqual(['Promote to prod?']);
    expect(nothing.shown[0]).toBe([...SUMMARY, 'Terraform: nothing to change', CHANGES].join('\n'));
    expect(nothing.ctx.confirmed).toEqual({ prod: 'Confirmed with the promotion' });
    const replaced = await runGate({ yes: true }, [], prodPlans(true));
    expect(replaced.title).toBe('Promotion to prod: 1 service added (whoami2: whoami2.pegasuspad.com → prod-whoami:8080), 0 changed, 0 removed; hosts: 1 replaced (prod-proxy) (--yes)');
    expect(replaced.ctx.confirmed).toBeUndefined();
  });

  it('with no render of prod on this machine, every file counts as new', async () => {
    const { ctx, stores } = await promotion();
    const shown: string[] = [];
    const step = promotionGate({ yes: false, dryRun: false, force: false, env: { HOMEPROD_STATE_ROOT: mkdtempSync(join(tmpdir(), 'homeprod-gate-')) }, stores, choose: async (task) => (shown.push(String(task.output)), 'promote') });
    await createList([step], { silent: true }).run(ctx);
    expect(shown[0]!.split('\n').at(-1)).toMatch(/^Rendered config: prod was not rendered on this machine before, so every file is new: inventory \(1 file\), prod-proxy \(\d+ files\), prod-proxy-passthrough \(\d+ files\)$/);
  });

  it('declined: refused (exit 4), and nothing recorded', async () => {
    const { ctx, env, stores, prodRecord } = await promotion();
    const before = await prodRecord();
    const prompter = scriptedPrompter(['decline']);
    const list = createList([promotionGate({ yes: false, dryRun: false, force: false, env, stores, choose: (_task, q) => prompter.select(q) })], { silent: true });
    const error = (await list.run(ctx).then(() => null, (e: unknown) => e)) as { message: string; exitCode: number } | null;
    expect(error?.message).toBe('not promoted to prod: declined');
    expect(error?.exitCode).toBe(4);
    expect(await prodRecord()).toEqual(before);
  });

  it('--yes asks nothing and puts the short summary in the title', async () => {
    const r = await runGate({ yes: true }, []);
    expect(r.error).toBeNull();
    expect(r.asked).toEqual([]);
    expect(r.title).toBe(`Promotion to prod: ${SHORT} (--yes)`);
  });

  it('without a terminal it refuses, naming the summary and the flag', async () => {
    const r = await runGate({});
    expect(r.error?.message).toBe(`promotion to prod needs a confirmation (${SHORT}), and there is no terminal to ask`);
    expect((r.error as unknown as { hint?: string }).hint).toBe('pass --yes to promote without asking');
  });
});

describe('a diff taller than the terminal', () => {
  it('is cut to the rows that fit (long lines take more), and the whole of it is in the file it names', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'homeprod-fit-')), 'promote', 'prod-proxy.diff');
    const diff = [`+${'x'.repeat(200)}`, ...Array.from({ length: 99 }, (_, i) => `+line ${i}`)];
    const shown = fitted(diff, 20, 80, file);
    // 20 rows: the long line takes 3, then 16 lines, then the line naming the file.
    expect(shown).toEqual([...diff.slice(0, 17), `… 83 more lines; the whole diff is in ${file}`]);
    expect(readFileSync(file, 'utf8')).toBe(`${diff.join('\n')}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(fitted(diff.slice(0, 10), 20, 80, `${file}.unused`)).toEqual(diff.slice(0, 10));
  });
});
