// The scripts the configure steps run on the stage's control node (through a ControlLink).
// Secrets travel on stdin only, never on a command line, and are never echoed.
import { q } from '../shared/link';

/** Where things live on the control node. `dir` is its data disk. */
export interface NodeLayout {
  dir: string;
  stage: string;
  agentSocket: string;
}

export const nodePaths = (n: NodeLayout) => ({
  key: `${n.dir}/keys/${n.stage}-control`,
  vaultFile: `${n.dir}/vault/${n.stage}.pass`,
  knownHosts: `${n.dir}/known_hosts`,
  bundle: `${n.dir}/run/${n.stage}`,
  caCert: `${n.dir}/ca/ca.crt`,
});

export type KeyState = 'missing' | 'plain' | 'agent' | 'locked';

export interface Probe {
  key: KeyState;
  /** The public key on the node ("type base64"), empty when missing. */
  publicKey: string;
  /** sha256 of the vault password file, empty when missing (compared, never shown). */
  vaultHash: string;
  ansiblePlaybook: boolean;
}

/**
 * Prints key=, pub=, vault=, ansible= lines. "locked": the key needs a passphrase and the
 * agent on the node holds no unlocked copy of it (the seed's locked control node).
 */
export function probeScript(n: NodeLayout): string {
  const p = nodePaths(n);
  return `set -u
key=${q(p.key)}; sock=${q(n.agentSocket)}
if [ ! -f "$key" ] || [ ! -f "$key.pub" ]; then echo key=missing
elif ssh-keygen -y -P '' -f "$key" >/dev/null 2>&1; then echo key=plain
else
  fp=$(ssh-keygen -l -f "$key.pub" | awk '{print $2}')
  if [ -S "$sock" ] && SSH_AUTH_SOCK="$sock" ssh-add -l 2>/dev/null | awk '{print $2}' | grep -qxF "$fp"; then echo key=agent; else echo key=locked; fi
fi
[ -f "$key.pub" ] && echo "pub=$(awk '{print $1" "$2}' "$key.pub")"
[ -f ${q(p.vaultFile)} ] && echo "vault=$(sha256sum < ${q(p.vaultFile)} | awk '{print $1}')"
command -v ansible-playbook >/dev/null && echo ansible=yes
exit 0
`;
}

export function parseProbe(stdout: string): Probe {
  const values = new Map(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
  const key = values.get('key');
  return {
    key: key === 'plain' || key === 'agent' || key === 'locked' ? key : 'missing',
    publicKey: values.get('pub') ?? '',
    vaultHash: values.get('vault') ?? '',
    ansiblePlaybook: values.get('ansible') === 'yes',
  };
}

/**
 * Installs the stage key pair and the vault password from a tar archive on stdin
 * (keys/<stage>-control{,.pub}, vault/<stage>.pass), 0600, replacing what differs.
 */
export function installSecretsScript(n: NodeLayout): string {
  const p = nodePaths(n);
  return `set -eu
umask 077
mkdir -p ${q(`${n.dir}/keys`)} ${q(`${n.dir}/vault`)}
chmod 0700 ${q(`${n.dir}/keys`)} ${q(`${n.dir}/vault`)}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
tar -x --no-same-owner -C "$t"
install -m 0600 "$t/keys/${n.stage}-control" ${q(`${p.key}.tmp`)} && mv -f ${q(`${p.key}.tmp`)} ${q(p.key)}
install -m 0644 "$t/keys/${n.stage}-control.pub" ${q(`${p.key}.pub`)}
install -m 0600 "$t/vault/${n.stage}.pass" ${q(`${p.vaultFile}.tmp`)} && mv -f ${q(`${p.vaultFile}.tmp`)} ${q(p.vaultFile)}
[ -f ${q(p.knownHosts)} ] || install -m 0644 /dev/null ${q(p.knownHosts)}
`;
}

/**
 * Unlocks the key into the node's agent; the passphrase is the first line of stdin and
 * reaches ssh-add through an askpass helper that reads it from the environment. The agent
 * outlives the session (until the node reboots: then it is locked again); its pid is kept
 * beside the socket so it can be stopped.
 */
export function unlockScript(n: NodeLayout): string {
  const p = nodePaths(n);
  return `set -eu
umask 077
sock=${q(n.agentSocket)}
mkdir -p "$(dirname "$sock")"
rc=0; SSH_AUTH_SOCK="$sock" ssh-add -l >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 2 ]; then
  rm -f "$sock"
  # The agent keeps its stderr open for good: detach it, or the session never ends.
  ssh-agent -a "$sock" </dev/null 2>/dev/null | sed -n 's/^SSH_AGENT_PID=\\([0-9]*\\).*/\\1/p' > "$sock.pid"
fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
IFS= read -r HOMEPROD_PASSPHRASE || true
export HOMEPROD_PASSPHRASE
# ssh-add asks again after a wrong passphrase: answer once, then refuse, so it gives up.
cat > "$t/askpass" <<'ASKPASS'
#!/bin/sh
[ -e "$0.used" ] && exit 1
: > "$0.used"
printf '%s\\n' "$HOMEPROD_PASSPHRASE"
ASKPASS
chmod 0700 "$t/askpass"
SSH_AUTH_SOCK="$sock" SSH_ASKPASS="$t/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none ssh-add ${q(p.key)} </dev/null >/dev/null 2>&1 || { echo "the passphrase does not unlock ${p.key}" >&2; exit 3; }
`;
}

/** Replaces the node's bundle with the tar.gz on stdin; installs its known_hosts when shipped. */
export function unpackScript(n: NodeLayout): string {
  const p = nodePaths(n);
  const d = p.bundle;
  return `set -eu
umask 022
mkdir -p ${q(`${n.dir}/run`)}
chmod 0700 ${q(`${n.dir}/run`)}
rm -rf ${q(`${d}.new`)}
mkdir ${q(`${d}.new`)}
tar -xz --no-same-owner -C ${q(`${d}.new`)}
if [ -f ${q(`${d}.new/known_hosts`)} ]; then install -m 0644 ${q(`${d}.new/known_hosts`)} ${q(p.knownHosts)}; fi
rm -rf ${q(`${d}.old`)}
if [ -d ${q(d)} ]; then mv ${q(d)} ${q(`${d}.old`)}; fi
mv ${q(`${d}.new`)} ${q(d)}
rm -rf ${q(`${d}.old`)}
`;
}

export interface PlaybookRun {
  /** With key state "agent": use the unlocked agent. */
  useAgent: boolean;
  /** Extra-vars files relative to the bundle, e.g. vars/homeprod.yml. */
  varsFiles: string[];
  /** Extra ansible-playbook arguments (e.g. --check, --diff). */
  extraArgs?: string[];
}

/** Runs site.yml from the unpacked bundle with the stage's vault id; output unbuffered. */
export function playbookScript(n: NodeLayout, run: PlaybookRun): string {
  const p = nodePaths(n);
  const args = [
    'ansible-playbook',
    '-i', `${p.bundle}/inventory/hosts.yml`,
    `${p.bundle}/ansible/site.yml`,
    '--vault-id', `${n.stage}@${p.vaultFile}`,
    ...run.varsFiles.flatMap((file) => ['-e', `@${p.bundle}/${file}`]),
    ...(run.extraArgs ?? []),
  ];
  return `set -eu
cd ${q(`${p.bundle}/ansible`)}
export ANSIBLE_CONFIG=${q(`${p.bundle}/ansible/ansible.cfg`)} ANSIBLE_PRIVATE_KEY_FILE=${q(p.key)}
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PYTHONUNBUFFERED=1 ANSIBLE_LOCAL_TEMP=${q(`${n.dir}/run/.tmp`)}
${run.useAgent ? `export SSH_AUTH_SOCK=${q(n.agentSocket)}` : 'unset SSH_AUTH_SOCK'}
exec ${args.map(q).join(' ')}
`;
}
