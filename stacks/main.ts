// Builds every stack of one stage from the site model, and synthesizes them to
// cdktf.out/stacks/<stack>/cdk.tf.json: one stack per VM and per data VM.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdktn';
import type { Platform, Site, StageName } from '../tasks/lib/model/types';
import type { HostKeySource } from '../tasks/lib/shared/host-keys';
import type { CloudInitTask } from './cloud-init-render';
import { DataVmStack } from './data-vm-stack';
import { applyPolicy } from './policy';
import { PROJECT_ROOT } from './terraform-offline';
import { VmStack } from './vm-stack';

export interface BuildOptions {
  /** Defaults to the stage's platform. */
  platform?: Platform;
  /** Absolute; local state files go to <stateDir>/<stage>/<stack>.tfstate (see ensureStateDir). */
  stateDir: string;
  /** Keys authorized for root in every machine (local) or VM (Proxmox, through cloud-init). */
  authorizedKeys: string[];
  /** Proxmox: each host's SSH host key pair, delivered by cloud-init (a HostKeyStore's source). */
  hostKeys?: HostKeySource;
  /** Proxmox: absolute directory the user-data snippets are written to (0600; they hold host private keys). */
  snippetDir?: string;
  /** Drops the data VMs' protection, for an explicit, confirmed `down --destroy-data`. */
  allowDataDestroy?: boolean;
  /** Extra cloud-init tasks per host (Proxmox), after the built-in ones. */
  cloudInitTasks?: (hostName: string) => CloudInitTask[];
}

export interface BuiltStacks {
  vms: VmStack[];
  data: DataVmStack[];
}

export function buildStacks(app: App, site: Site, stageName: StageName, options: BuildOptions): BuiltStacks {
  const stage = site.stages[stageName];
  const platform = options.platform ?? stage.platform;
  const built: BuiltStacks = { vms: [], data: [] };
  for (const host of site.hosts.filter((h) => h.stage === stageName)) {
    const data = host.dataDisks.length > 0
      ? new DataVmStack(app, { host, stage, platform, stateDir: options.stateDir, allowDataDestroy: options.allowDataDestroy ?? false })
      : null;
    if (data) built.data.push(data);
    const vm = new VmStack(app, {
      site, host, stage, platform, stateDir: options.stateDir, authorizedKeys: options.authorizedKeys, data,
      hostKeys: options.hostKeys, snippetDir: options.snippetDir,
      cloudInitTasks: options.cloudInitTasks?.(host.name) ?? [],
    });
    built.vms.push(vm);
  }
  applyPolicy(app, site);
  return built;
}

export interface SynthesizedStack {
  name: string;
  kind: 'vm' | 'data';
  /** Absolute directory holding cdk.tf.json; terraform runs here. */
  dir: string;
  /** Stacks that must be applied before this one (and destroyed after it). */
  dependsOn: string[];
}

export interface SynthResult {
  outdir: string;
  stage: StageName;
  platform: Platform;
  stacks: SynthesizedStack[];
}

export interface SynthOptions extends BuildOptions {
  /** Defaults to <project root>/cdktf.out. */
  outdir?: string;
}

/**
 * Synthesizes one stage into a fresh temporary directory, then moves each stack directory into
 * <outdir>/stacks/ (replacing that stack's previous output only), so a policy failure or crash
 * never leaves a half-written stack behind, and the other stage's stacks are left alone.
 */
export function synthStage(site: Site, stageName: StageName, options: SynthOptions): SynthResult {
  // HOMEPROD_CDKTF_OUT (a directory directly in the project, e.g. for a test run) keeps the
  // local stacks' working_dir "../../.." pointing at the project root.
  const outdir = options.outdir ?? join(PROJECT_ROOT, process.env.HOMEPROD_CDKTF_OUT || 'cdktf.out');
  const platform = options.platform ?? site.stages[stageName].platform;
  mkdirSync(outdir, { recursive: true });
  const tmp = join(outdir, `.synth-${stageName}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  // Creation stack traces cost more than the rest of synthesis under tsx's source maps, and
  // nothing reads them: errors name the construct path instead.
  const previous = process.env.CDKTN_DISABLE_CREATION_STACK;
  process.env.CDKTN_DISABLE_CREATION_STACK = '1';
  try {
    const app = new App({ outdir: tmp, stackTraces: false, skipValidation: false });
    const built = buildStacks(app, site, stageName, options);
    app.synth();
    const stacks: SynthesizedStack[] = [
      ...built.data.map((s) => ({ stack: s, kind: 'data' as const })),
      ...built.vms.map((s) => ({ stack: s, kind: 'vm' as const })),
    ].map(({ stack, kind }) => ({
      name: stack.node.id,
      kind,
      dir: join(outdir, 'stacks', stack.node.id),
      dependsOn: stack.dependencies.map((d) => d.node.id).sort(),
    }));
    mkdirSync(join(outdir, 'stacks'), { recursive: true });
    for (const s of stacks) {
      rmSync(s.dir, { recursive: true, force: true });
      renameSync(join(tmp, 'stacks', s.name), s.dir);
    }
    return { outdir, stage: stageName, platform, stacks };
  } finally {
    if (previous === undefined) delete process.env.CDKTN_DISABLE_CREATION_STACK;
    else process.env.CDKTN_DISABLE_CREATION_STACK = previous;
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}
