// The configure layer: run the playbooks ON the stage's control node. The steps check the node
// (reachable, key present and unlocked), put the stage key and vault password on its data disk
// the first time, send ansible/ with the rendered inventory and configs, run ansible-playbook
// there with the stage's vault id while streaming its output into the task, and read the
// recap so callers can assert that a second run changed nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type AcmeVars, localAcmeRoot, localAcmeVars, managesStageCa, usesLocalAcme } from './ansible-acme';
import { bundleStream, secretsStream, stageVars, vaultPassword, vaultVarsFile } from './ansible-bundle';
import { failureLines, hostsWithProblems, parseRecap, totalChanged, type RecapCounts } from './ansible-recap';
import {
  type ControlLink,
  installSecretsScript,
  type NodeLayout,
  nodePaths,
  parseProbe,
  playbookScript,
  type Probe,
  probeScript,
  sshLink,
  unlockScript,
  unpackScript,
} from './ansible-remote';
import { EXIT, HomeprodError } from './errors';
import { controlKey, stateRoot } from './keys';
import { type Step, type StepTask, taskLog } from './listr';
import { localConfig, paths as localPaths } from './local/config';
import { sshArgs as localSshArgs } from './local/ssh';
import type { HostOutput, Site, StageName } from './model/types';
import { secretInTask } from './prompts';

export { parseRecap, totalChanged, type RecapCounts } from './ansible-recap';

/** The control node's data disk and the agent an operator unlocks the stage key into. */
export const NODE_DIR = '/var/lib/ansible';
export const AGENT_SOCKET = '/run/homeprod/ssh-agent.sock';

export interface ConfigureResult {
  /** Counts per host from the PLAY RECAP. */
  recap: Record<string, RecapCounts>;
  /** Changed tasks over all hosts: 0 on a converged stage. */
  changed: number;
  /** The CA verify trusts for the stage (local-ca: the stage CA; local acme: pebble's root). */
  caCert: string | null;
  /**
   * tls mode acme ran while nothing answered on the passthrough's port 80 (its stage not up
   * yet): the proxies serve placeholders, and a configure run once the route is up issues.
   */
  acmePending: boolean;
  /** The full ansible-playbook output (secrets are no_log in the roles). */
  logFile: string;
}

export interface ConfigureContext {
  site?: Site;
  /** Terraform outputs of the applied stages (to find the control node's address). */
  outputs?: HostOutput[];
  /** Render results, as render's steps leave them. */
  rendered?: Partial<Record<StageName, { outDir: string }>>;
  configured?: Partial<Record<StageName, ConfigureResult>>;
}

export type AskPassphrase = (task: StepTask<ConfigureContext>, message: string) => Promise<string>;

export interface ConfigureOptions {
  stage: StageName;
  /** The site; else ctx.site. */
  site?: Site;
  /** The stage's render output; else ctx.rendered[stage].outDir. */
  renderDir?: string;
  /** How to reach the control node; default from the stage's platform. */
  link?: ControlLink;
  /** known_hosts for the node's own ssh; default the local platform's generated file. */
  knownHosts?: string | null;
  /** The stage key pair on this machine; default .state/keys/<stage>-control. */
  keyFile?: string;
  /** Ask for the key's passphrase when the node is locked; absent = stop with a message. */
  askPassphrase?: AskPassphrase;
  /** Extra ansible-playbook arguments. */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A passphrase prompt inside the running task (inquirer adapter), for interactive runs. */
export const promptPassphrase: AskPassphrase = (task, message) => secretInTask(task, message);

/** The stage's control node from the outputs (what exists) or the model. */
export function controlNode(site: Site, stage: StageName, outputs: HostOutput[] = []): { name: string; ipv4: string } {
  const applied = outputs.find((h) => h.stage === stage && h.roles.includes('control-node'));
  if (applied) return { name: applied.name, ipv4: applied.ipv4 };
  const host = site.hosts.find((h) => h.stage === stage && h.roles.includes('control-node'));
  if (!host) throw new HomeprodError(`stage ${stage} has no host with role control-node: nothing can run its playbooks`, EXIT.failed);
  if (!host.ipv4) throw new HomeprodError(`${host.name}: a control node takes DHCP, so its address comes only from terraform outputs; apply the stage first`, EXIT.precondition);
  return { name: host.name, ipv4: host.ipv4 };
}

/** ssh to the control node: through the local platform's router namespace, or directly on Proxmox. */
export function defaultLink(site: Site, stage: StageName, outputs: HostOutput[] = []): { link: ControlLink; knownHosts: string | null } {
  const node = controlNode(site, stage, outputs);
  if (site.stages[stage].platform === 'local') {
    const cfg = localConfig();
    return { link: sshLink(node.name, localSshArgs(node.name, cfg)), knownHosts: localPaths(cfg).knownHosts };
  }
  return {
    // The operator's own known_hosts must already hold the node's key: nothing is trusted on first use.
    link: sshLink(node.name, ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ServerAliveInterval=15', `root@${node.ipv4}`]),
    knownHosts: null,
  };
}

function writePrivate(file: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

const publicKeyOf = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');

export function configureSteps(opts: ConfigureOptions): Step<ConfigureContext>[] {
  const { stage } = opts;
  const env = opts.env ?? process.env;
  const layout: NodeLayout = { dir: NODE_DIR, stage, agentSocket: AGENT_SOCKET };
  const where = nodePaths(layout);
  // Filled by the first step, read by the later ones.
  let link: ControlLink;
  let knownHosts: string | null = null;
  let probe: Probe;
  let acme: AcmeVars | null = null;

  const siteOf = (ctx: ConfigureContext): Site => {
    const site = opts.site ?? ctx.site;
    if (!site) throw new Error('configureSteps: no site (pass opts.site or run a step that sets ctx.site first)');
    return site;
  };
  const probeNode = async (): Promise<Probe> => {
    const result = await link.run(probeScript(layout), { signal: opts.signal });
    if (result.exitCode !== 0) {
      throw new HomeprodError(`cannot reach the ${stage} control node ${link.host} (ssh exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim()}`, EXIT.precondition, 'is the stage applied? npx tsx tasks/local.ts status lists the local machines');
    }
    return parseProbe(result.stdout);
  };

  return [
    {
      title: `Check the ${stage} control node`,
      task: async (ctx, task) => {
        const site = siteOf(ctx);
        if (opts.link) {
          link = opts.link;
          knownHosts = opts.knownHosts ?? null;
        } else {
          ({ link, knownHosts } = defaultLink(site, stage, ctx.outputs));
          if (opts.knownHosts !== undefined) knownHosts = opts.knownHosts;
        }
        probe = await probeNode();
        if (!probe.ansiblePlaybook) {
          throw new HomeprodError(`${link.host}: ansible-playbook is not installed on the control node`, EXIT.precondition, 'the control node image must carry ansible-core');
        }
        task.title = `Checked the ${stage} control node ${link.host} (key: ${probe.key})`;
      },
    },
    {
      title: `Place the ${stage} key and vault password on the control node`,
      task: async (_ctx, task) => {
        const keyFile = opts.keyFile ?? (await controlKey(stage, env)).privateKey;
        const secret = vaultPassword(stage, env);
        const localPub = publicKeyOf(readFileSync(`${keyFile}.pub`, 'utf8'));
        const localVaultHash = createHash('sha256').update(`${secret.text}\n`).digest('hex');
        if (probe.key !== 'missing' && probe.publicKey === localPub && probe.vaultHash === localVaultHash) {
          task.skip(`The ${stage} key and vault password are in place on ${link.host}`);
          return;
        }
        const { stream, cleanup } = secretsStream(stage, keyFile, secret);
        try {
          const result = await link.run(installSecretsScript(layout), { input: stream, signal: opts.signal });
          if (result.exitCode !== 0) throw new HomeprodError(`${link.host}: placing the stage key failed: ${result.stderr.trim()}`);
        } finally {
          cleanup();
        }
        probe = await probeNode();
        task.title = `Placed the ${stage} key and vault password on ${link.host} (${where.key}, ${where.vaultFile})`;
      },
    },
    {
      title: `Unlock the ${stage} control node's key`,
      task: async (_ctx, task) => {
        if (probe.key === 'plain' || probe.key === 'agent') {
          task.skip(probe.key === 'agent' ? `The ${stage} key is unlocked on ${link.host}` : `The ${stage} key has no passphrase`);
          return;
        }
        if (!opts.askPassphrase) {
          throw new HomeprodError(
            `the ${stage} control node ${link.host} is locked: its key ${where.key} is passphrase-protected and its agent holds no unlocked copy`,
            EXIT.precondition,
            `run npx tsx tasks/configure.ts --stage ${stage} in a terminal: it asks for the passphrase and unlocks the node until it reboots`,
          );
        }
        for (let attempt = 1; attempt <= 3; attempt++) {
          const passphrase = await opts.askPassphrase(task, `Passphrase of the ${stage} control key on ${link.host}`);
          const result = await link.run(unlockScript(layout), { input: `${passphrase}\n`, signal: opts.signal });
          if (result.exitCode === 0) break;
          if (attempt === 3) throw new HomeprodError(`${link.host}: the passphrase does not unlock ${where.key} (3 attempts)`, EXIT.refused);
          task.output = 'That passphrase does not unlock the key; try again.';
        }
        probe = await probeNode();
        if (probe.key !== 'agent') throw new HomeprodError(`${link.host}: the key is still locked after ssh-add`, EXIT.failed);
        task.title = `Unlocked the ${stage} key into the agent on ${link.host}`;
      },
    },
    {
      title: `Start the ${stage} ACME server (pebble)`,
      skip: (ctx) => (usesLocalAcme(siteOf(ctx), stage) ? false : `The ${stage} stage does not use the local ACME server`),
      task: async (ctx, task) => {
        acme = await localAcmeVars(siteOf(ctx), stage, ctx.outputs, env);
        task.title = acme.certificates_acme_route_ready
          ? `The ${stage} ACME server answers at ${acme.certificates_acme_directory}`
          : `The ${stage} ACME server answers at ${acme.certificates_acme_directory}; the passthrough's port 80 does not yet, so certificates are placeholders until a run after it is up`;
      },
    },
    {
      title: `Send the playbooks and the rendered ${stage} configs to the control node`,
      task: async (ctx) => {
        const site = siteOf(ctx);
        const renderDir = opts.renderDir ?? ctx.rendered?.[stage]?.outDir;
        if (!renderDir) throw new HomeprodError(`no render output for stage ${stage}: render it first (npx tsx tasks/render.ts --stage ${stage} --out DIR)`, EXIT.precondition);
        const { stream, cleanup } = bundleStream({
          renderDir,
          knownHosts,
          vaultFile: vaultVarsFile(site, stage),
          varsText: stageVars(site, stage, where.bundle, acme ? { ...acme } : {}),
        });
        try {
          const result = await link.run(unpackScript(layout), { input: stream, signal: opts.signal });
          if (result.exitCode !== 0) throw new HomeprodError(`${link.host}: unpacking the configure bundle failed: ${result.stderr.trim()}`);
        } finally {
          cleanup();
        }
      },
    },
    {
      title: `Run the ${stage} playbooks on the control node`,
      task: async (ctx, task) => {
        const site = siteOf(ctx);
        const varsFiles = ['vars/homeprod.yml', ...(vaultVarsFile(site, stage) ? ['vars/vault.yml'] : [])];
        const script = playbookScript(layout, { useAgent: probe.key === 'agent', varsFiles, extraArgs: opts.extraArgs });
        const log = taskLog(task);
        const result = await link.run(script, { onOutput: log, signal: opts.signal });
        const text = result.stdout + (result.stderr ? `\n${result.stderr}` : '');
        const logFile = join(stateRoot(env), 'logs', `configure-${stage}.log`);
        writePrivate(logFile, text);
        const recap = parseRecap(result.stdout);
        const problems = hostsWithProblems(recap);
        if (result.exitCode !== 0 || problems.length > 0) {
          const details = failureLines(text);
          throw new HomeprodError(
            `ansible-playbook failed on the ${stage} control node ${link.host} (exit ${result.exitCode}${problems.length ? `; failed or unreachable: ${problems.join(', ')}` : ''})`,
            EXIT.failed,
            `full output in ${logFile}`,
            details.length ? details : result.stderr.trim().split('\n').slice(-5),
          );
        }
        const changed = totalChanged(recap);
        ctx.configured = { ...ctx.configured, [stage]: { recap, changed, caCert: null, acmePending: acme !== null && !acme.certificates_acme_route_ready, logFile } };
        task.title = `Ran the ${stage} playbooks on ${link.host}: ${Object.keys(recap).length} hosts, ${changed} changed`;
      },
    },
    {
      title: `Fetch the ${stage} CA certificate`,
      skip: (ctx) => (managesStageCa(siteOf(ctx), stage) ? false : `homeprod keeps no CA for the ${stage} stage`),
      task: async (ctx, task) => {
        let pem: string;
        if (usesLocalAcme(siteOf(ctx), stage)) {
          // The root pebble issues under; it lives only as long as pebble runs.
          pem = await localAcmeRoot(siteOf(ctx), stage, env);
        } else {
          const result = await link.run(`cat ${where.caCert}`, { signal: opts.signal });
          if (result.exitCode !== 0 || !result.stdout.includes('BEGIN CERTIFICATE')) {
            throw new HomeprodError(`${link.host}: no CA certificate at ${where.caCert} after the run`);
          }
          pem = result.stdout;
        }
        const file = caCertFile(stage, env);
        writePrivate(file, pem, 0o644);
        const done = ctx.configured?.[stage];
        if (done) done.caCert = file;
        task.title = `Fetched the ${stage} CA certificate into ${file}`;
      },
    },
  ];
}

/** Where the stage CA's certificate is kept on this machine (verify trusts it). */
export function caCertFile(stage: StageName, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'tls', `${stage}-ca.pem`);
}

/** Whether a previous configure left a CA certificate for the stage. */
export const hasCaCert = (stage: StageName, env: NodeJS.ProcessEnv = process.env) => existsSync(caCertFile(stage, env));
