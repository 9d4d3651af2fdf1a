// The plays of ansible/site.yml as the selective configure sees them. Each playbook is a play
// with the host pattern of a full run (the default of its `hosts:` line); each role it imports
// is a part, the unit configure selects per host by its inputs (inputs.ts). A play of one role
// is one part, named after the play; in a play of several roles each part is `<play>/<role>`
// and carries a `when:` line that reads homeprod_roles, so a service change makes the new
// nginx release live without reinstalling packages or certificates.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, normalize, relative } from 'node:path';
import { parse } from 'yaml';
import { filesUnder } from '../shared/files';
import { HomeprodError } from '../ui/errors';

export interface Part {
  /** The play's name, or `<play>/<role>` in a play of several roles: the key of the record and the selection. */
  key: string;
  play: string;
  role: string;
  /** The pattern of a full run: groups or hosts joined by ':' (a union), or 'all'. */
  pattern: string[];
  /** The roles it runs: its own and those it imports, sorted. */
  roles: string[];
  /** Files (relative to the ansible dir) whose content shapes it: the playbook, what the playbook imports, its roles' files. */
  files: string[];
}

export interface Play {
  /** The playbook's base name, the key of homeprod_plays. */
  name: string;
  pattern: string[];
  parts: Part[];
}

/** Files every play depends on: how Ansible runs, and in which order the plays come. */
export const COMMON_FILES = ['ansible.cfg', 'site.yml', 'requirements.yml'];

const HOSTS_LINE = /^\{\{ homeprod_plays\.([a-z_]+) \| default\('([\w:-]+)'\) \}\}$/;
const ROLE_REFERENCE = /(?:^|\n)\s*-?\s*role:\s*["']?([\w.-]+)|(?:import_role|include_role):\s*\n\s+name:\s*["']?([\w.-]+)/g;
const ROLE_IMPORTS = ['ansible.builtin.import_role', 'import_role', 'ansible.builtin.include_role', 'include_role'];
const TASK_IMPORTS = ['ansible.builtin.import_tasks', 'import_tasks'];

/** The `when:` a part of a play of several roles carries. */
export const partWhen = (play: string, role: string) => `inventory_hostname in homeprod_roles.${play}.${role} | default([inventory_hostname])`;

const referencedRoles = (text: string): string[] => [...text.matchAll(ROLE_REFERENCE)].map((m) => (m[1] ?? m[2])!.replace(/^ansible\.builtin\./, ''));

/** The role and, transitively, the roles it imports. */
function rolesOf(ansibleDir: string, role: string, file: string): string[] {
  const found = new Set<string>();
  const pending = [role];
  while (pending.length) {
    const next = pending.pop()!;
    if (found.has(next)) continue;
    const dir = join(ansibleDir, 'roles', next);
    if (!existsSync(dir)) throw new HomeprodError(`${file}: uses role ${next}, which is not in ${relative(process.cwd(), join(ansibleDir, 'roles'))}`);
    found.add(next);
    for (const inner of filesUnder(dir)) pending.push(...referencedRoles(readFileSync(inner, 'utf8')));
  }
  return [...found].sort();
}

type Entry = Record<string, unknown>;

interface RoleUse {
  role: string;
  when: unknown;
}

/** The roles a play imports, in order: its `roles:` and its tasks' import_role, which are all its tasks may be. */
function roleUses(play: Entry, file: string): RoleUse[] {
  if (play.pre_tasks || play.post_tasks) throw new HomeprodError(`ansible/${file}: a play has only roles and tasks that import roles (no pre_tasks or post_tasks), so configure can select each part`);
  const roles = ((play.roles ?? []) as Array<string | Entry>).map((r) => (typeof r === 'string' ? { role: r, when: undefined } : { role: String(r.role ?? r.name), when: r.when }));
  const tasks = ((play.tasks ?? []) as Entry[]).map((task) => {
    const key = ROLE_IMPORTS.find((k) => k in task);
    const name = key ? (task[key] as Entry | null)?.name : undefined;
    if (typeof name !== 'string') throw new HomeprodError(`ansible/${file}: task "${String(task.name ?? '?')}" does not import a role; every task of a play imports one, so configure can select it`);
    return { role: name.replace(/^ansible\.builtin\./, ''), when: task.when };
  });
  return [...roles, ...tasks];
}

/** Files a play's handlers import (relative to the ansible dir): they shape every part of it. */
function handlerFiles(play: Entry, file: string, ansibleDir: string): string[] {
  return ((play.handlers ?? []) as Entry[]).flatMap((handler) => {
    const key = TASK_IMPORTS.find((k) => k in handler);
    if (!key) return [];
    const path = normalize(join(dirname(file), String(handler[key])));
    if (path.startsWith('..') || !existsSync(join(ansibleDir, path))) throw new HomeprodError(`ansible/${file}: handlers import ${String(handler[key])}, which is not a file of ansible/`);
    return [path];
  });
}

/** The playbook's play: its name and full-run pattern from its `hosts:` lines, which must all be the selectable form, and its parts. */
function readPlaybook(ansibleDir: string, file: string): Play {
  const name = basename(file, '.yml');
  const parsed = parse(readFileSync(join(ansibleDir, file), 'utf8')) as unknown;
  const plays = (Array.isArray(parsed) ? parsed : []) as Entry[];
  const patterns = new Set<string>();
  for (const play of plays) {
    const match = typeof play.hosts === 'string' ? HOSTS_LINE.exec(play.hosts) : null;
    if (!match || match[1] !== name) {
      throw new HomeprodError(`ansible/${file}: hosts must read "{{ homeprod_plays.${name} | default('<groups>') }}", so configure can run it on the hosts whose inputs changed`);
    }
    patterns.add(match[2]!);
  }
  if (patterns.size !== 1) throw new HomeprodError(`ansible/${file}: every play of a playbook runs on one pattern (found ${[...patterns].join(', ') || 'none'})`);
  const pattern = [...patterns][0]!.split(':');
  const uses = plays.flatMap((play) => roleUses(play, file));
  const shared = [file, ...plays.flatMap((play) => handlerFiles(play, file, ansibleDir))];
  const several = uses.length > 1;
  const parts = uses.map(({ role, when }): Part => {
    if (several && when !== partWhen(name, role)) {
      throw new HomeprodError(`ansible/${file}: role ${role} must carry "when: ${partWhen(name, role)}", so configure can run it only on the hosts whose inputs for it changed`);
    }
    const roles = rolesOf(ansibleDir, role, `ansible/${file}`);
    const files = [...shared, ...roles.flatMap((r) => filesUnder(join(ansibleDir, 'roles', r)).map((f) => relative(ansibleDir, f)))];
    return { key: several ? `${name}/${role}` : name, play: name, role, pattern, roles, files };
  });
  if (new Set(parts.map((p) => p.key)).size !== parts.length) throw new HomeprodError(`ansible/${file}: a role is imported twice; each role is one part of the play`);
  return { name, pattern, parts };
}

/** The plays of site.yml in their order. */
export function playsOf(ansibleDir: string): Play[] {
  const site = parse(readFileSync(join(ansibleDir, 'site.yml'), 'utf8')) as Array<Record<string, unknown>>;
  return site.map((entry) => {
    const file = entry['ansible.builtin.import_playbook'] ?? entry.import_playbook;
    if (typeof file !== 'string') throw new HomeprodError('ansible/site.yml: every entry imports one playbook');
    return readPlaybook(ansibleDir, file);
  });
}

/** Every part of every play, in the order they run. */
export const partsOf = (plays: readonly Play[]): Part[] => plays.flatMap((p) => p.parts);
