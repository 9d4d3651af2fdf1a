// What each part of a play reads on each host, hashed: the files of the playbook and the
// part's roles, the files every play depends on, the generated variables its files name (the
// host's own values, or every host's when the part reads other hosts through hostvars or
// groups), the groups, and the host's rendered tree when the part reads the bundle. Equal
// hashes: the part would do nothing new on that host. Whatever a part could read that is not
// named here (the vault, the stage's lines of the known_hosts ssh connects with) is in every
// hash, so a change there runs everything.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAnsibleYaml } from '../shared/ansible-yaml';
import { HomeprodError } from '../ui/errors';
import { filesUnder } from '../shared/files';
import { COMMON_FILES, type Part } from './plays';

/** part key → host → sha256 of what the part reads there. */
export type PartInputs = Record<string, Record<string, string>>;

export interface InputSources {
  ansibleDir: string;
  /** The stage's render output (inventory/hosts.yml, hosts/<host>/). */
  renderDir: string;
  /** vars/homeprod.yml as the bundle carries it. */
  varsText: string;
  vaultFile: string | null;
  knownHosts: string | null;
}

interface Inventory {
  /** host → its variables (all.vars beneath the host's own). */
  hostvars: Record<string, Record<string, unknown>>;
  /** group → its hosts. */
  groups: Record<string, string[]>;
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const fileSha = (file: string | null) => (file && existsSync(file) ? sha(readFileSync(file)) : 'none');

function readInventory(renderDir: string): Inventory {
  const file = join(renderDir, 'inventory', 'hosts.yml');
  const all = ((parseAnsibleYaml(readFileSync(file, 'utf8')) as { all?: Record<string, unknown> } | null)?.all ?? {}) as {
    vars?: Record<string, unknown>;
    hosts?: Record<string, Record<string, unknown> | null>;
    children?: Record<string, { hosts?: Record<string, unknown> | null }>;
  };
  const hostvars = Object.fromEntries(Object.entries(all.hosts ?? {}).map(([host, vars]) => [host, { ...all.vars, ...vars }]));
  const groups: Record<string, string[]> = { all: Object.keys(hostvars).sort() };
  for (const [group, body] of Object.entries(all.children ?? {})) groups[group] = Object.keys(body?.hosts ?? {}).sort();
  return { hostvars, groups };
}

/** The hosts a full run of the play reaches: a union of groups and host names. */
export function hostsOfPattern(play: Pick<Part, 'play' | 'pattern'>, inventory: Pick<Inventory, 'groups' | 'hostvars'>): string[] {
  const hosts = new Set<string>();
  for (const part of play.pattern) {
    const members = inventory.groups[part] ?? (part in inventory.hostvars ? [part] : undefined);
    if (!members) throw new HomeprodError(`ansible/playbooks/${play.play}.yml: its hosts "${play.pattern.join(':')}" name ${part}, neither a group nor a host of the inventory`);
    for (const host of members) hosts.add(host);
  }
  return [...hosts].sort();
}

function treeDigest(dir: string): string {
  if (!existsSync(dir)) return 'none';
  return sha(filesUnder(dir).map((f) => `${relative(dir, f)}\0${sha(readFileSync(f))}`).join('\n'));
}

/**
 * The known_hosts lines ssh checks for this stage: those naming one of its hosts or their
 * addresses, and hashed ones (which could be any). The local platform keeps one file for both
 * stages, and a machine created in prod must not rerun every lab play.
 */
function knownHostsDigest(file: string | null, inventory: Inventory): string {
  if (!file || !existsSync(file)) return 'none';
  const ours = new Set(Object.entries(inventory.hostvars).flatMap(([host, vars]) => [host, String(vars.ansible_host ?? host)]));
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .filter((line) => line.startsWith('|') || line.split(/\s+/)[0]!.split(',').some((name) => ours.has(name.replace(/^\[(.+)\]:\d+$/, '$1'))));
  return sha(lines.sort().join('\n'));
}

const names = (text: string, candidates: Iterable<string>) => [...candidates].filter((name) => new RegExp(`(?<![\\w.])${name}(?!\\w)`).test(text)).sort();

/** Every part's input hash on every host it runs on in a full run. */
export function partInputs(parts: Part[], sources: InputSources): PartInputs {
  const inventory = readInventory(sources.renderDir);
  const stageVars = (parseAnsibleYaml(sources.varsText) ?? {}) as Record<string, unknown>;
  const base = sha([...COMMON_FILES.map((f) => fileSha(join(sources.ansibleDir, f))), fileSha(sources.vaultFile), knownHostsDigest(sources.knownHosts, inventory)].join('\n'));
  const known = new Set([...Object.keys(stageVars), ...Object.values(inventory.hostvars).flatMap((vars) => Object.keys(vars))]);
  const result: PartInputs = {};
  for (const part of parts) {
    const contents = part.files.map((f) => readFileSync(join(sources.ansibleDir, f)));
    const text = contents.map((c) => c.toString('utf8')).join('\n');
    const code = sha(part.files.map((f, i) => `${f}\0${sha(contents[i]!)}`).join('\n'));
    const used = names(text, known);
    const crossHost = /\bhostvars\b|\bgroups\s*\[/.test(text);
    const readsBundle = used.includes('homeprod_bundle_dir');
    const valuesOf = (host: string) => Object.fromEntries(used.map((name) => [name, name in stageVars ? stageVars[name] : inventory.hostvars[host]?.[name]]));
    const everyHost = crossHost ? { hosts: Object.fromEntries(Object.keys(inventory.hostvars).sort().map((h) => [h, valuesOf(h)])), groups: inventory.groups } : null;
    result[part.key] = Object.fromEntries(
      hostsOfPattern(part, inventory).map((host) => {
        const groups = Object.keys(inventory.groups).filter((g) => inventory.groups[g]!.includes(host)).sort();
        const data = {
          base,
          code,
          host,
          connection: inventory.hostvars[host]?.ansible_host ?? null,
          groups,
          vars: valuesOf(host),
          everyHost,
          rendered: readsBundle ? treeDigest(join(sources.renderDir, 'hosts', host)) : null,
        };
        return [host, sha(JSON.stringify(data))];
      }),
    );
  }
  return result;
}
