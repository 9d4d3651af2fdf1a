// What a promotion brings prod, in a person's terms: the services added, changed and removed
// (with their routes), the hosts Terraform creates, replaces, updates in place or destroys (with
// what of them changes in the model), the other stages' names prod's passthrough routes, the
// other settings and project files that change, compared with what prod last ran. With no facts
// of a last run (prod's first promotion, or a record older than the facts) everything prod gets
// is new.
import type { MachineAction, MachinePlan } from '../apply';
import type { HostFacts, ServiceFacts, StageFacts } from './facts';

export interface Changed {
  name: string;
  /** One phrase a difference: "maxBodySize 1m → 10m". */
  what: string[];
}

/**
 * What happens to a host: its VM as Terraform's plan has it (without the plans: as the model
 * changed, created/changed/destroyed); `later`: planned once its data disks are applied;
 * `changed`: its machine stays as it is, the model changed.
 */
export type HostVerdict = 'created' | 'replaced' | 'updated' | 'later' | 'changed' | 'destroyed';

/** The order hosts are listed and counted in. */
const VERDICTS: readonly HostVerdict[] = ['created', 'replaced', 'updated', 'later', 'changed', 'destroyed'];

export interface HostChange {
  name: string;
  verdict: HostVerdict;
  /** What of it changes in the model ("cpu 1 → 2"); a new host's roles and address, a gone one's roles. */
  what: string[];
  /** What the plan does to its data VM (`none`: nothing, or no plans given). */
  data: MachineAction;
}

export interface PromotionSummary {
  first: boolean;
  services: { added: ServiceFacts[]; changed: Changed[]; removed: ServiceFacts[] };
  /** By verdict (created first, destroyed last), each in the site's order, then the hosts that left it. */
  hosts: HostChange[];
  /** Whether `hosts` comes from Terraform's plans (else from the model alone). */
  planned: boolean;
  /** The other stages' names the passthrough routes ("notes.lab.pegasuspad.com → lab"), new and gone. */
  passthrough: { added: string[]; removed: string[] };
  /** Settings ("stage.tls", "users.pegasus") that are new, gone or different. */
  settings: string[];
  /** Project directories whose files change (stacks, templates, roles), with how many files. */
  project: Array<{ dir: string; files: number }>;
}

const list = (items: readonly string[]) => (items.length ? items.join(', ') : 'none');
const onOff = (v: boolean) => (v ? 'on' : 'off');

export const routeOf = (s: Pick<ServiceFacts, 'hostnames' | 'upstream'>) => `${s.hostnames.join(', ')} → ${s.upstream}`;

function serviceChanges(a: ServiceFacts, b: ServiceFacts): string[] {
  const what: string[] = [];
  if (list(a.hostnames) !== list(b.hostnames) || a.upstream !== b.upstream) what.push(`route ${routeOf(a)} becomes ${routeOf(b)}`);
  if (a.maxBodySize !== b.maxBodySize) what.push(`maxBodySize ${a.maxBodySize} → ${b.maxBodySize}`);
  if (a.websocket !== b.websocket) what.push(`websocket ${onOff(a.websocket)} → ${onOff(b.websocket)}`);
  if (a.certificate !== b.certificate) what.push(`certificate ${a.certificate} → ${b.certificate}`);
  if (a.extraLines !== b.extraLines) what.push('extra location lines');
  return what;
}

function hostChanges(a: HostFacts, b: HostFacts): string[] {
  const what: string[] = [];
  const was = <T>(label: string, x: T, y: T, unit = '') => {
    if (x !== y) what.push(`${label} ${String(x)}${unit} → ${String(y)}${unit}`);
  };
  was('roles', list(a.roles), list(b.roles));
  was('cpu', a.cpu, b.cpu);
  was('memory', a.memory, b.memory, ' MiB');
  was('boot disk', a.bootDisk, b.bootDisk, ' GiB');
  was('image', a.image, b.image);
  was('address', a.ipv4 ?? 'DHCP', b.ipv4 ?? 'DHCP');
  was('vmid', a.vmid, b.vmid);
  if (list(a.dataDisks) !== list(b.dataDisks)) what.push(`data disks ${list(a.dataDisks)} → ${list(b.dataDisks)}`);
  return what;
}

function compare<T extends { name: string }>(before: readonly T[], after: readonly T[], changes: (a: T, b: T) => string[]) {
  const old = new Map(before.map((x) => [x.name, x]));
  const now = new Set(after.map((x) => x.name));
  return {
    added: after.filter((x) => !old.has(x.name)),
    changed: after.flatMap((x) => {
      const what = old.has(x.name) ? changes(old.get(x.name)!, x) : [];
      return what.length ? [{ name: x.name, what }] : [];
    }),
    removed: before.filter((x) => !now.has(x.name)),
  };
}

/** The changed inputs besides the site, by directory (ansible/roles/<role>, templates/<dir>, …). */
function projectDirs(changedInputs: readonly string[]): PromotionSummary['project'] {
  const counts = new Map<string, number>();
  for (const file of changedInputs.filter((f) => f !== 'site')) {
    const dir = file.split('/').slice(0, -1).slice(0, 3).join('/') || file;
    counts.set(dir, (counts.get(dir) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([dir, files]) => ({ dir, files }));
}

const VERDICT_OF: Record<MachineAction, HostVerdict> = { create: 'created', replace: 'replaced', update: 'updated', later: 'later', destroy: 'destroyed', none: 'changed' };

/**
 * The hosts as the model changed them, then, given the plans, as Terraform will change them: the
 * plan's verdict with the model's reasons. Without a last run's facts (a first promotion) the
 * model says nothing of hosts Terraform leaves alone.
 */
function hostChangesOf(before: readonly HostFacts[], after: readonly HostFacts[], first: boolean, machines?: readonly MachinePlan[]): HostChange[] {
  const model = compare(before, after, hostChanges);
  const described = new Map<string, HostChange>();
  const say = (name: string, verdict: HostVerdict, what: string[]) => described.set(name, { name, verdict, what, data: 'none' });
  for (const h of model.added) say(h.name, 'created', [h.roles.join(', '), h.ipv4 ?? 'DHCP']);
  for (const h of model.changed) say(h.name, 'changed', h.what);
  for (const h of model.removed) say(h.name, 'destroyed', [h.roles.join(', ')]);
  const order = [...after, ...model.removed].map((h) => h.name);
  const byVerdict = (hosts: HostChange[]) => hosts.sort((a, b) => VERDICTS.indexOf(a.verdict) - VERDICTS.indexOf(b.verdict));
  if (!machines) return byVerdict(order.flatMap((name) => described.get(name) ?? []));
  const planned = new Map(machines.map((m) => [m.host, m]));
  const names = [...new Set([...order, ...planned.keys()])].filter((n) => planned.has(n) || (!first && described.has(n)));
  return byVerdict(
    names.map((name) => {
      const machine = planned.get(name);
      return { name, verdict: VERDICT_OF[machine?.vm ?? 'none'], what: described.get(name)?.what ?? [], data: machine?.data ?? 'none' };
    }),
  );
}

/**
 * `changedInputs`: what differs from prod's last run's content snapshot (ignored on a first
 * promotion); `machines`: what the stage's plans do to each host (machinePlans), when planned.
 */
export function summarizePromotion(before: StageFacts | null, after: StageFacts, changedInputs: readonly string[] = [], machines?: readonly MachinePlan[]): PromotionSummary {
  const base: StageFacts = before ?? { services: [], hosts: [], passthrough: [], settings: {} };
  const keys = new Set([...Object.keys(base.settings), ...Object.keys(after.settings)]);
  return {
    first: before === null,
    services: compare(base.services, after.services, serviceChanges),
    hosts: hostChangesOf(base.hosts, after.hosts, before === null, machines),
    planned: machines !== undefined,
    passthrough: { added: after.passthrough.filter((r) => !base.passthrough.includes(r)), removed: base.passthrough.filter((r) => !after.passthrough.includes(r)) },
    settings: before === null ? [] : [...keys].filter((k) => base.settings[k] !== after.settings[k]).sort(),
    project: before === null ? [] : projectDirs(changedInputs),
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** At most three names, then how many more. */
function some(items: readonly string[]): string {
  return items.length <= 3 ? items.join(', ') : `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
}

/** How each verdict is said. */
const VERDICT_WORDS: Record<HostVerdict, string> = {
  created: 'created',
  replaced: 'replaced',
  updated: 'updated in place',
  later: 'planned once its data disks are applied',
  changed: 'changed',
  destroyed: 'destroyed',
};

/** "hosts: 1 created (prod-wiki), 1 replaced (prod-whoami)", or "no hosts change". */
export function hostsPhrase(hosts: readonly HostChange[]): string {
  const parts = VERDICTS.flatMap((verdict) => {
    const names = hosts.filter((h) => h.verdict === verdict).map((h) => h.name);
    return names.length ? [`${names.length} ${VERDICT_WORDS[verdict]} (${some(names)})`] : [];
  });
  return parts.length ? `hosts: ${parts.join(', ')}` : 'no hosts change';
}

/** One line, for the step's title: "1 service added (whoami2: a.example → prod-whoami:8080), 1 changed, 0 removed; no hosts change". */
export function shortSummary(summary: PromotionSummary): string {
  const { services } = summary;
  const added = services.added.length ? ` (${some(services.added.map((s) => `${s.name}: ${routeOf(s)}`))})` : '';
  const parts = [`${plural(services.added.length, 'service')} added${added}, ${services.changed.length} changed, ${services.removed.length} removed`];
  parts.push(hostsPhrase(summary.hosts));
  const { passthrough } = summary;
  if (passthrough.added.length || passthrough.removed.length) {
    const shown = (items: string[]) => (items.length ? ` (${some(items)})` : '');
    parts.push(`passthrough routes: ${passthrough.added.length} added${shown(passthrough.added)}, ${passthrough.removed.length} removed${shown(passthrough.removed)}`);
  }
  if (summary.settings.length) parts.push(`settings change: ${some(summary.settings)}`);
  const files = summary.project.reduce((n, p) => n + p.files, 0);
  if (files) parts.push(`${plural(files, 'project file')} change${files === 1 ? 's' : ''} (${some(summary.project.map((p) => p.dir))})`);
  return `${summary.first ? 'first promotion: ' : ''}${parts.join('; ')}`;
}

const DATA_WORDS: Record<MachineAction, string> = { create: 'created', replace: 'replaced', update: 'updated in place', destroy: 'destroyed', later: 'planned later', none: '' };

/** "+ host prod-wiki: created; data VM created (application; 10.111.1.21)". */
export function hostLine(host: HostChange, planned: boolean): string {
  const sign = host.verdict === 'created' ? '+' : host.verdict === 'destroyed' ? '-' : '~';
  const verdict = host.verdict === 'changed' && planned ? 'changed, its machine stays as it is' : VERDICT_WORDS[host.verdict];
  const data = host.data === 'none' ? '' : `; data VM ${DATA_WORDS[host.data]}`;
  return `${sign} host ${host.name}: ${verdict}${data}${host.what.length ? ` (${host.what.join('; ')})` : ''}`;
}

/** Every difference, one line each, for the output under the prompt. */
export function summaryLines(summary: PromotionSummary): string[] {
  const { services } = summary;
  const lines = [
    ...services.added.map((s) => `+ service ${s.name}: ${routeOf(s)}`),
    ...services.changed.map((s) => `~ service ${s.name}: ${s.what.join('; ')}`),
    ...services.removed.map((s) => `- service ${s.name}: ${routeOf(s)}`),
    ...summary.hosts.map((h) => hostLine(h, summary.planned)),
    ...summary.passthrough.added.map((r) => `+ passthrough route ${r}`),
    ...summary.passthrough.removed.map((r) => `- passthrough route ${r}`),
    ...(summary.settings.length ? [`~ settings: ${summary.settings.join(', ')}`] : []),
    ...(summary.project.length ? [`~ project files: ${summary.project.map((p) => `${p.dir} (${p.files})`).join(', ')}`] : []),
  ];
  const head = summary.first ? 'First promotion: prod gets every service and host' : 'Prod gets, compared with its last run:';
  return [head, ...(lines.length ? lines : ['  no service, host, passthrough route, setting or project file of prod changes'])];
}
