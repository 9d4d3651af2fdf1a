// SSH to the node as the provider does it: the node's address from `sshNodes` or from the API
// (its first interface with a gateway), the `sshUser`, only the keys of the operator's agent,
// and ~/.ssh/known_hosts, which the provider reads too. Unlike the provider, nothing is trusted
// on first use. On the node the provider runs pvesm and qm (disk imports) and tee (snippet
// uploads), through `sudo -n` when it is not root: those are checked without running them.
import { join } from 'node:path';
import { $ } from 'zx';
import type { DoctorContext } from './context';

interface NodeInterface {
  iface: string;
  address?: string;
  gateway?: string;
  address6?: string;
  gateway6?: string;
}

export interface SshTarget {
  address: string;
  port: number;
  /** How the address was found, for messages. */
  from: string;
}

/** Where the provider will reach the node's SSH. */
export async function nodeSshTarget(ctx: DoctorContext): Promise<SshTarget> {
  const override = ctx.stage.proxmox.sshNodes.find((n) => n.name === ctx.node);
  if (override) return { address: override.address, port: override.port, from: `${ctx.where}.proxmox.sshNodes` };
  const ifaces = ctx.ready ? ((await ctx.getOrNull<NodeInterface[]>(`/nodes/${encodeURIComponent(ctx.node)}/network`)) ?? []) : [];
  const pick = ifaces.find((i) => i.address && i.gateway)?.address ?? ifaces.find((i) => i.address6 && i.gateway6)?.address6 ?? ifaces.find((i) => i.address)?.address;
  return pick ? { address: pick, port: 22, from: 'the node\'s network (API)' } : { address: ctx.node, port: 22, from: 'DNS (the node\'s name)' };
}

// Runs on the node: who logs in, and what sudo allows without a password.
const NODE_SCRIPT = `echo homeprod-doctor
if [ "$(id -u)" -eq 0 ]; then echo root; exit 0; fi
sudo -n pvesm apiinfo 2>/dev/null | grep -q APIVER && echo sudo:pvesm
sudo -n -l qm >/dev/null 2>&1 && echo sudo:qm
[ -n "$1" ] && sudo -n -l /usr/bin/tee "$1/snippets/homeprod-doctor" >/dev/null 2>&1 && echo sudo:tee
exit 0
`;

/** What the node's answer lacks, as problems (exported for its unit test). */
export function sudoProblems(ctx: DoctorContext, output: string, snippetsPath: string | null): string[] {
  const lines = output.split('\n').map((l) => l.trim());
  if (lines.includes('root')) return [];
  const user = ctx.stage.proxmox.sshUser;
  const sudoers = `/etc/sudoers.d/${user} on node ${ctx.node}`;
  const problems: string[] = [];
  if (!lines.includes('sudo:pvesm')) problems.push(`node ${ctx.node}: ${user} may not run "sudo pvesm" without a password (the provider imports disks with it): add "${user} ALL=(root) NOPASSWD: /usr/sbin/pvesm" to ${sudoers}`);
  if (!lines.includes('sudo:qm')) problems.push(`node ${ctx.node}: ${user} may not run "sudo qm" without a password (the provider imports disks with it): add "${user} ALL=(root) NOPASSWD: /usr/sbin/qm" to ${sudoers}`);
  if (snippetsPath && !lines.includes('sudo:tee')) {
    problems.push(`node ${ctx.node}: ${user} may not run "sudo tee" into ${snippetsPath}/snippets (the provider uploads snippets with it): add "${user} ALL=(root) NOPASSWD: /usr/bin/tee ${snippetsPath}/*" to ${sudoers}`);
  }
  return problems;
}

export async function sshCheck(ctx: DoctorContext): Promise<string[]> {
  const env = ctx.options.env;
  const { nodes, sshNodes, sshUser } = ctx.stage.proxmox;
  const problems = sshNodes.filter((n) => !nodes.includes(n.name)).map((n) => `${ctx.where}.proxmox.sshNodes: "${n.name}" is not one of ${ctx.where}.proxmox.nodes (${nodes.join(', ')}): name a node there`);
  if (!env.SSH_AUTH_SOCK) {
    return [...problems, `SSH_AUTH_SOCK is not set: the provider logs in to node ${ctx.node} as ${sshUser} with the keys of your ssh-agent: start one (eval "$(ssh-agent)") and ssh-add a key ${sshUser} accepts there`];
  }
  const target = await nodeSshTarget(ctx);
  // The path the provider uploads snippets under (GET /storage/{id}, as the provider asks it).
  const storage = ctx.ready ? await ctx.getOrNull<{ path?: string }>(`/storage/${encodeURIComponent(ctx.stage.datastores.snippets)}`) : null;
  const knownHosts = join(env.HOME ?? '/root', '.ssh', 'known_hosts');
  const args = [
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    // Only the agent's keys, as the provider: no default key files.
    '-o', 'IdentityFile=none',
    '-o', 'PreferredAuthentications=publickey',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    '-p', String(target.port),
    `${sshUser}@${target.address}`,
    '--', 'sh', '-s', '--', storage?.path ?? '',
  ];
  const r = await $({ env, input: NODE_SCRIPT, nothrow: true, quiet: true, timeout: 30_000 })`ssh ${args}`;
  const where = `node ${ctx.node} (${target.address}:${target.port}, from ${target.from})`;
  if (r.exitCode === 0 && r.stdout.includes('homeprod-doctor')) return [...problems, ...sudoProblems(ctx, r.stdout, storage?.path ?? null)];
  const said = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `ssh exit ${r.exitCode}`;
  if (/Host key verification failed|HOST IDENTIFICATION HAS CHANGED|host key for .* has changed/i.test(r.stderr)) {
    problems.push(`${where}: its host key is not in ${knownHosts} (or differs): compare ssh-keyscan -p ${target.port} ${target.address} with the node's /etc/ssh/ssh_host_ed25519_key.pub, then add that line; nothing trusts a key on first use`);
  } else if (/Permission denied/i.test(r.stderr)) {
    problems.push(`${where}: ${sshUser} refused every key of your ssh-agent (${said}): add one to ~${sshUser}/.ssh/authorized_keys on the node, or set ${ctx.where}.proxmox.sshUser`);
  } else {
    problems.push(`${where}: SSH does not answer (${said}): check the address, or set ${ctx.where}.proxmox.sshNodes to where the node's SSH listens`);
  }
  return problems;
}
