// The configure steps, one function each, named after its title. They share one ConfigureRun:
// the link to the control node and what its probe found, filled by the first step.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostOutput, Site, StageName } from '../model/types';
import { platformOf } from '../platform';
import { mkdirPrivate, writeFileAtomic } from '../shared/files';
import { controlKey } from '../shared/keys';
import type { ControlLink } from '../shared/link';
import { stateRoot } from '../shared/paths';
import { storesFor, type Stores } from '../shared/store';
import { EXIT, HomeprodError } from '../ui/errors';
import { type Step, taskLog } from '../ui/listr';
import { type AcmeVars, acmeServerRoot, acmeVars, managesStageCa, runsAcmeServer } from './acme';
import { ANSIBLE_DIR, bundleStream, secretsStream, stageVars, vaultPassword, vaultVarsFile } from './bundle';
import { caCertFile } from './ca';
import type { ConfigureContext, ConfigureOptions } from './index';
import { type PartInputs, partInputs } from './inputs';
import { machinesOf, readPlaysRecord, writePlaysRecord } from './plays-record';
import { type Part, partsOf, playsOf } from './plays';
import { failureLines, hostsWithProblems, parseRecap, totalChanged } from './recap';
import { alwaysRun, describeSelection, playsVars, type Selection, selectPlays, selectsNothing } from './selection';
import { installSecretsScript, type NodeLayout, nodePaths, parseProbe, playbookScript, type Probe, probeScript, unlockScript, unpackScript } from './remote';

/** The control node's data disk and the agent an operator unlocks the stage key into. */
export const NODE_DIR = '/var/lib/ansible';
export const AGENT_SOCKET = '/run/homeprod/ssh-agent.sock';

type ConfigureStep = Step<ConfigureContext>;

/** The stage's control node from the outputs (what exists) or the model. */
export function controlNode(site: Site, stage: StageName, outputs: HostOutput[] = []): { name: string; ipv4: string } {
  const applied = outputs.find((h) => h.stage === stage && h.roles.includes('control-node'));
  if (applied) return { name: applied.name, ipv4: applied.ipv4 };
  const host = site.hosts.find((h) => h.stage === stage && h.roles.includes('control-node'));
  if (!host) throw new HomeprodError(`stage ${stage} has no host with role control-node: nothing can run its playbooks`, EXIT.failed);
  if (!host.ipv4) throw new HomeprodError(`${host.name}: a control node takes DHCP, so its address comes only from terraform outputs; apply the stage first`, EXIT.precondition);
  return { name: host.name, ipv4: host.ipv4 };
}

const publicKeyOf = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');

/** What one configure run knows about its control node, step after step. */
export class ConfigureRun {
  readonly stage: StageName;
  readonly env: NodeJS.ProcessEnv;
  readonly layout: NodeLayout;
  readonly where: ReturnType<typeof nodePaths>;
  link!: ControlLink;
  knownHosts: string | null = null;
  probe!: Probe;
  acme: AcmeVars | null = null;
  /** What the plays read on each host now, and which of them run (choosePlays). */
  parts: Part[] = [];
  inputs: PartInputs = {};
  selection!: Selection;
  machines: Record<string, string> = {};
  varsText = '';
  renderDir = '';
  vaultFile: string | null = null;

  constructor(readonly opts: ConfigureOptions) {
    this.stage = opts.stage;
    this.env = opts.env ?? process.env;
    this.layout = { dir: NODE_DIR, stage: opts.stage, agentSocket: AGENT_SOCKET };
    this.where = nodePaths(this.layout);
  }

  /** ansible-playbook --check: shows what would change; runs everything and records nothing. */
  get checkOnly(): boolean {
    return this.opts.extraArgs?.includes('--check') ?? false;
  }

  stores(ctx: ConfigureContext): Stores {
    return this.opts.stores ?? storesFor(this.site(ctx), { env: this.env });
  }

  site(ctx: ConfigureContext): Site {
    const site = this.opts.site ?? ctx.site;
    if (!site) throw new Error('configureSteps: no site (pass opts.site or run a step that sets ctx.site first)');
    return site;
  }

  /** Uses the link the caller gave, else the one the stage's platform reaches the node with. */
  connect(ctx: ConfigureContext): void {
    if (this.opts.link) {
      this.link = this.opts.link;
      this.knownHosts = this.opts.knownHosts ?? null;
      return;
    }
    const site = this.site(ctx);
    const stage = site.stages[this.stage];
    const peers = (ctx.outputs ?? []).filter((h) => h.stage === this.stage);
    ({ link: this.link, knownHosts: this.knownHosts } = platformOf(stage).reach(controlNode(site, this.stage, ctx.outputs), stage, this.env, peers));
    if (this.opts.knownHosts !== undefined) this.knownHosts = this.opts.knownHosts;
  }

  async probeNode(): Promise<Probe> {
    const result = await this.link.run(probeScript(this.layout), { signal: this.opts.signal });
    if (result.exitCode !== 0) {
      throw new HomeprodError(
        `cannot reach the ${this.stage} control node ${this.link.host} (ssh exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim()}`,
        EXIT.precondition,
        'is the stage applied? npx tsx tasks/local.ts status lists the local machines',
      );
    }
    this.probe = parseProbe(result.stdout);
    return this.probe;
  }
}

export function checkControlNode(run: ConfigureRun): ConfigureStep {
  return {
    title: `Check the ${run.stage} control node`,
    task: async (ctx, task) => {
      run.connect(ctx);
      const probe = await run.probeNode();
      if (!probe.ansiblePlaybook) {
        throw new HomeprodError(`${run.link.host}: ansible-playbook is not installed on the control node`, EXIT.precondition, 'the control node image must carry ansible-core');
      }
      task.title = `Checked the ${run.stage} control node ${run.link.host} (key: ${probe.key})`;
    },
  };
}

export function placeSecrets(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Place the ${stage} key and vault password on the control node`,
    task: async (_ctx, task) => {
      const keyFile = run.opts.keyFile ?? (await controlKey(stage, run.env)).privateKey;
      const secret = vaultPassword(stage, run.env);
      const localPub = publicKeyOf(readFileSync(`${keyFile}.pub`, 'utf8'));
      const localVaultHash = createHash('sha256').update(`${secret.text}\n`).digest('hex');
      if (run.probe.key !== 'missing' && run.probe.publicKey === localPub && run.probe.vaultHash === localVaultHash) {
        task.skip(`The ${stage} key and vault password are in place on ${run.link.host}`);
        return;
      }
      const { stream, cleanup } = secretsStream(stage, keyFile, secret);
      try {
        const result = await run.link.run(installSecretsScript(run.layout), { input: stream, signal: run.opts.signal });
        if (result.exitCode !== 0) throw new HomeprodError(`${run.link.host}: placing the stage key failed: ${result.stderr.trim()}`);
      } finally {
        cleanup();
      }
      await run.probeNode();
      task.title = `Placed the ${stage} key and vault password on ${run.link.host} (${run.where.key}, ${run.where.vaultFile})`;
    },
  };
}

export function unlockKey(run: ConfigureRun): ConfigureStep {
  const { stage, where } = run;
  return {
    title: `Unlock the ${stage} control node's key`,
    task: async (_ctx, task) => {
      if (run.probe.key === 'plain' || run.probe.key === 'agent') {
        task.skip(run.probe.key === 'agent' ? `The ${stage} key is unlocked on ${run.link.host}` : `The ${stage} key has no passphrase`);
        return;
      }
      const ask = run.opts.askPassphrase;
      if (!ask) {
        throw new HomeprodError(
          `the ${stage} control node ${run.link.host} is locked: its key ${where.key} is passphrase-protected and its agent holds no unlocked copy`,
          EXIT.precondition,
          `run npx tsx tasks/configure.ts --stage ${stage} in a terminal: it asks for the passphrase and unlocks the node until it reboots`,
        );
      }
      for (let attempt = 1; attempt <= 3; attempt++) {
        const passphrase = await ask(task, `Passphrase of the ${stage} control key on ${run.link.host}`);
        const result = await run.link.run(unlockScript(run.layout), { input: `${passphrase}\n`, signal: run.opts.signal });
        if (result.exitCode === 0) break;
        if (attempt === 3) throw new HomeprodError(`${run.link.host}: the passphrase does not unlock ${where.key} (3 attempts)`, EXIT.refused);
        task.output = 'That passphrase does not unlock the key; try again.';
      }
      if ((await run.probeNode()).key !== 'agent') throw new HomeprodError(`${run.link.host}: the key is still locked after ssh-add`, EXIT.failed);
      task.title = `Unlocked the ${stage} key into the agent on ${run.link.host}`;
    },
  };
}

export function startAcmeServer(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Start the ${stage} ACME server`,
    skip: (ctx) => (runsAcmeServer(run.site(ctx), stage) ? false : `homeprod runs no ACME server for the ${stage} stage`),
    task: async (ctx, task) => {
      const acme = await acmeVars(run.site(ctx), stage, ctx.outputs, run.env);
      run.acme = acme;
      task.title = acme.certificates_acme_route_ready
        ? `The ${stage} ACME server answers at ${acme.certificates_acme_directory}`
        : `The ${stage} ACME server answers at ${acme.certificates_acme_directory}; the passthrough's port 80 does not yet, so certificates are placeholders until a run after it is up`;
    },
  };
}

export function choosePlays(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Decide which ${stage} plays the change needs`,
    task: async (ctx, task) => {
      const site = run.site(ctx);
      run.renderDir = run.opts.renderDir ?? ctx.rendered?.[stage]?.outDir ?? '';
      if (!run.renderDir) throw new HomeprodError(`no render output for stage ${stage}: render it first (npx tsx tasks/render.ts --stage ${stage} --out DIR)`, EXIT.precondition);
      run.varsText = stageVars(site, stage, run.where.bundle, run.acme ? { ...run.acme } : {});
      run.vaultFile = vaultVarsFile(site, stage);
      run.parts = partsOf(playsOf(ANSIBLE_DIR));
      run.inputs = partInputs(run.parts, { ansibleDir: ANSIBLE_DIR, renderDir: run.renderDir, varsText: run.varsText, vaultFile: run.vaultFile, knownHosts: run.knownHosts });
      run.machines = await machinesOf(run.stores(ctx), stage);
      run.selection = selectPlays({
        inputs: run.inputs,
        before: run.opts.full || run.checkOnly ? null : await readPlaysRecord(run.stores(ctx), stage),
        full: run.opts.full || run.checkOnly,
        machines: run.machines,
        always: alwaysRun(site, stage, run.parts),
      });
      task.title = run.selection.full
        ? `Every ${stage} play runs on every host (${run.selection.reason})`
        : selectsNothing(run.selection)
          ? `No ${stage} play has anything new to do: every input is as the hosts were last configured with`
          : `The change needs ${describeSelection(run.selection)}; every other part's inputs are unchanged`;
    },
  };
}

export function sendBundle(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Send the playbooks and the rendered ${stage} configs to the control node`,
    skip: () => (selectsNothing(run.selection) ? `No ${stage} play has anything new to do` : false),
    task: async () => {
      const { stream, cleanup } = bundleStream({
        renderDir: run.renderDir,
        knownHosts: run.knownHosts,
        vaultFile: run.vaultFile,
        varsText: run.varsText,
        playsText: run.selection.full ? undefined : playsVars(run.selection, run.parts),
      });
      try {
        const result = await run.link.run(unpackScript(run.layout), { input: stream, signal: run.opts.signal });
        if (result.exitCode !== 0) throw new HomeprodError(`${run.link.host}: unpacking the configure bundle failed: ${result.stderr.trim()}`);
      } finally {
        cleanup();
      }
    },
  };
}

export function runPlaybooks(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Run the ${stage} playbooks on the control node`,
    task: async (ctx, task) => {
      const { selection } = run;
      const acmePending = run.acme !== null && !run.acme.certificates_acme_route_ready;
      if (selectsNothing(selection)) {
        ctx.configured = { ...ctx.configured, [stage]: { recap: {}, changed: 0, caCert: null, acmePending, logFile: '', selection } };
        task.skip(`Ran no ${stage} playbook: every part's inputs are as the hosts were last configured with`);
        return;
      }
      const varsFiles = ['vars/homeprod.yml', ...(run.vaultFile ? ['vars/vault.yml'] : []), ...(selection.full ? [] : ['vars/plays.yml'])];
      const script = playbookScript(run.layout, { useAgent: run.probe.key === 'agent', varsFiles, extraArgs: run.opts.extraArgs });
      const result = await run.link.run(script, { onOutput: taskLog(task, stage), signal: run.opts.signal });
      const text = result.stdout + (result.stderr ? `\n${result.stderr}` : '');
      const logFile = join(stateRoot(run.env), 'logs', `configure-${stage}.log`);
      mkdirPrivate(dirname(logFile));
      writeFileAtomic(logFile, text, 0o600);
      const recap = parseRecap(result.stdout);
      const problems = hostsWithProblems(recap);
      if (result.exitCode !== 0 || problems.length > 0) {
        const details = failureLines(text);
        throw new HomeprodError(
          `ansible-playbook failed on the ${stage} control node ${run.link.host} (exit ${result.exitCode}${problems.length ? `; failed or unreachable: ${problems.join(', ')}` : ''})`,
          EXIT.failed,
          `full output in ${logFile}`,
          details.length ? details : result.stderr.trim().split('\n').slice(-5),
        );
      }
      const changed = totalChanged(recap);
      ctx.configured = { ...ctx.configured, [stage]: { recap, changed, caCert: null, acmePending, logFile, selection } };
      if (!run.checkOnly) await writePlaysRecord(run.stores(ctx), stage, run.inputs, run.machines);
      const what = selection.full ? 'every play' : describeSelection(selection);
      task.title = `Ran the ${stage} playbooks on ${run.link.host} (${what}): ${Object.keys(recap).length} hosts, ${changed} changed`;
    },
  };
}

export function fetchStageCa(run: ConfigureRun): ConfigureStep {
  const { stage } = run;
  return {
    title: `Fetch the ${stage} CA certificate`,
    skip: (ctx) => (managesStageCa(run.site(ctx), stage) ? false : `homeprod keeps no CA for the ${stage} stage`),
    task: async (ctx, task) => {
      const site = run.site(ctx);
      // An ACME server homeprod runs keeps its root only as long as it runs: ask it.
      const pem = runsAcmeServer(site, stage) ? await acmeServerRoot(site, stage, run.env) : await readCaFromNode(run);
      const file = caCertFile(stage, run.env);
      mkdirPrivate(dirname(file));
      writeFileAtomic(file, pem, 0o644);
      const done = ctx.configured?.[stage];
      if (done) done.caCert = file;
      task.title = `Fetched the ${stage} CA certificate into ${file}`;
    },
  };
}

async function readCaFromNode(run: ConfigureRun): Promise<string> {
  const result = await run.link.run(`cat ${run.where.caCert}`, { signal: run.opts.signal });
  if (result.exitCode !== 0 || !result.stdout.includes('BEGIN CERTIFICATE')) {
    throw new HomeprodError(`${run.link.host}: no CA certificate at ${run.where.caCert} after the run`);
  }
  return result.stdout;
}
