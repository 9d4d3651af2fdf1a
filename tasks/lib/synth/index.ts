// The synth layer: writes a stage's stacks to cdktf.out/stacks/<stack>/ (one step), and the
// synthesizer the apply layer plans and applies from.
import { join } from 'node:path';
import { ensureStateDir } from '../../../stacks/backend';
import { synthStage, type SynthesizedStack, type SynthOptions, type SynthResult } from '../../../stacks/main';
import type { Platform, Site, StageName } from '../model/types';
import { controlKey } from '../shared/keys';
import { HostKeyStore } from '../shared/host-keys';
import { hostKeysDir, snippetsDir, stateRoot, tfStateDir } from '../shared/paths';
import type { Step } from '../ui/listr';

/** Terraform state of local-backend stages (never inside cdktf.out): <state root>/terraform. */
export const defaultTfStateDir = (env: NodeJS.ProcessEnv = process.env) => tfStateDir(stateRoot(env));

export interface SynthContext {
  site: Site;
  synth?: Partial<Record<StageName, SynthResult>>;
}

export interface SynthStepOptions {
  platform?: Platform;
  stateDir?: string;
  outdir?: string;
  allowDataDestroy?: boolean;
  /** Defaults to every site user's SSH keys. */
  authorizedKeys?: string[];
  /** The state root the host keys and secret snippets go under (default stateRoot()). */
  root?: string;
}

export function synthOptions(site: Site, stage: StageName, options: SynthStepOptions = {}): SynthOptions {
  const stateDir = options.stateDir ?? defaultTfStateDir();
  if (site.stages[stage].state.backend === 'local') ensureStateDir(stateDir, stage);
  return {
    platform: options.platform,
    stateDir,
    outdir: options.outdir,
    allowDataDestroy: options.allowDataDestroy,
    authorizedKeys: options.authorizedKeys ?? [...new Set(site.users.flatMap((u) => u.sshKeys))],
    // Only stacks whose VMs boot from cloud-init ask for these: a key pair is made on first use.
    hostKeys: new HostKeyStore(hostKeysDir(options.root ?? stateRoot(), stage)).source,
    snippetDir: snippetsDir(options.root ?? stateRoot(), stage),
  };
}

export function synthSteps(stage: StageName, options: SynthStepOptions = {}): Step<SynthContext>[] {
  return [
    {
      title: `Synthesize the ${stage} stacks`,
      task: (ctx, task) => {
        const result = synthStage(ctx.site, stage, synthOptions(ctx.site, stage, options));
        ctx.synth = { ...ctx.synth, [stage]: result };
        task.title = `Synthesized ${result.stacks.length} ${stage} stacks (${result.platform}) into ${join(result.outdir, 'stacks')}`;
      },
    },
  ];
}

/** One line per stack, for the CLI. */
export function describeStacks(result: SynthResult): string[] {
  const width = Math.max(...result.stacks.map((s) => s.name.length));
  return result.stacks.map(
    (s) => `${s.name.padEnd(width)}  ${s.kind === 'data' ? 'data VM' : 'VM     '}  ${s.dir}${s.dependsOn.length ? `  (after ${s.dependsOn.join(', ')})` : ''}`,
  );
}

/** One synthesized stack, as the apply layer plans it (the contract of stacks/main.ts `synthStage`). */
export type SynthStack = SynthesizedStack;

/** What a synthesizer hands the apply layer: where the stacks are, and each stack. */
export interface StageStacks {
  outdir: string;
  stacks: SynthStack[];
}

export type Synthesize = (site: Site, stage: StageName, options: { allowDataDestroy: boolean }) => StageStacks | Promise<StageStacks>;

/**
 * The real synthesizer: stacks/main.ts with every VM authorizing the site's users and the
 * stage's control-node key. `up` and `apply` both synthesize through here, so the keys (part
 * of each local VM's identity) never differ between the two and never replace a VM.
 */
export function synthesizer(paths: { outdir?: string; tfStateDir?: string } = {}): Synthesize {
  return async (site, stage, { allowDataDestroy }) => {
    const control = await controlKey(stage);
    const authorizedKeys = [...new Set([...site.users.flatMap((u) => u.sshKeys), control.publicKey])];
    return synthStage(site, stage, synthOptions(site, stage, { allowDataDestroy, authorizedKeys, outdir: paths.outdir, stateDir: paths.tfStateDir }));
  };
}
