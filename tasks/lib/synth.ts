// The synth layer: one step that writes a stage's stacks to cdktf.out/stacks/<stack>/.
import { join } from 'node:path';
import { ensureStateDir } from '../../stacks/backend';
import { synthStage, type SynthOptions, type SynthResult } from '../../stacks/main';
import { stateRoot, tfStateDir } from './keys';
import type { Step } from './listr';
import type { Platform, Site, StageName } from './model/types';

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
