// The plays of ansible/site.yml as the selective configure sees them: one unit per playbook,
// with the host pattern it runs on in a full run (the default of its `hosts:` line), the roles
// it uses (followed through import_role, include_role and role dependencies) and every file
// that shapes it. A play is selected per host by its inputs (inputs.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse } from 'yaml';
import { HomeprodError } from '../ui/errors';

export interface Play {
  /** The playbook's base name, the key of homeprod_plays. */
  name: string;
  /** The pattern of a full run: groups or hosts joined by ':' (a union), or 'all'. */
  pattern: string[];
  /** The roles it runs, sorted. */
  roles: string[];
  /** Files (relative to the ansible dir) whose content shapes it: the playbook and its roles' files. */
  files: string[];
}

/** Files every play depends on: how Ansible runs, and in which order the plays come. */
export const COMMON_FILES = ['ansible.cfg', 'site.yml', 'requirements.yml'];

const HOSTS_LINE = /^\{\{ homeprod_plays\.([a-z_]+) \| default\('([\w:-]+)'\) \}\}$/;
const ROLE_REFERENCE = /(?:^|\n)\s*-?\s*role:\s*["']?([\w.-]+)|(?:import_role|include_role):\s*\n\s+name:\s*["']?([\w.-]+)/g;

/** Every file under a directory, sorted; none when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

const referencedRoles = (text: string): string[] => [...text.matchAll(ROLE_REFERENCE)].map((m) => (m[1] ?? m[2])!.replace(/^ansible\.builtin\./, ''));

/** The roles a text uses and, transitively, the roles those use. */
function rolesOf(ansibleDir: string, text: string, file: string): string[] {
  const found = new Set<string>();
  const pending = referencedRoles(text);
  while (pending.length) {
    const role = pending.pop()!;
    if (found.has(role)) continue;
    const dir = join(ansibleDir, 'roles', role);
    if (!existsSync(dir)) throw new HomeprodError(`${file}: uses role ${role}, which is not in ${relative(process.cwd(), join(ansibleDir, 'roles'))}`);
    found.add(role);
    for (const inner of filesUnder(dir)) pending.push(...referencedRoles(readFileSync(inner, 'utf8')));
  }
  return [...found].sort();
}

/** The playbook's unit: its name and full-run pattern from its `hosts:` lines, which must all be the selectable form. */
function readPlaybook(ansibleDir: string, file: string): Play {
  const name = basename(file, '.yml');
  const text = readFileSync(join(ansibleDir, file), 'utf8');
  const plays = parse(text) as Array<{ hosts?: unknown }>;
  const patterns = new Set<string>();
  for (const play of Array.isArray(plays) ? plays : []) {
    const match = typeof play.hosts === 'string' ? HOSTS_LINE.exec(play.hosts) : null;
    if (!match || match[1] !== name) {
      throw new HomeprodError(`ansible/${file}: hosts must read "{{ homeprod_plays.${name} | default('<groups>') }}", so configure can run it on the hosts whose inputs changed`);
    }
    patterns.add(match[2]!);
  }
  if (patterns.size !== 1) throw new HomeprodError(`ansible/${file}: every play of a playbook runs on one pattern (found ${[...patterns].join(', ') || 'none'})`);
  const roles = rolesOf(ansibleDir, text, `ansible/${file}`);
  const files = [file, ...roles.flatMap((role) => filesUnder(join(ansibleDir, 'roles', role)).map((f) => relative(ansibleDir, f)))];
  return { name, pattern: [...patterns][0]!.split(':'), roles, files };
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
