// Render: the stage's Ansible inventory and the nginx configs of its passthrough and stage
// proxies, from the site and the terraform outputs, written as one tree (contracts.md):
//   <out>/inventory/hosts.yml, <out>/hosts/<host>/nginx/...
import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT, HomeprodError } from '../ui/errors';
import type { Step } from '../ui/listr';
import type { HostOutput, Site, StageName } from '../model/types';
import { STAGES } from '../model/types';
import { writeTree } from './files';
import { renderInventory } from './inventory';
import { renderNginx, type NginxOptions } from './nginx';
import { expectedOutputs } from './outputs';

export { expectedOutputs, parseOutputs, readOutputsFile } from './outputs';
export { DEBIAN_RUNTIME, DEFAULT_TLS_DIR, type NginxRuntime } from './nginx';

export interface RenderOptions extends NginxOptions {
  outDir: string;
  /** outDir is homeprod's own (under the state root; earlier versions wrote no marker there). */
  ownDir?: boolean;
}

export interface RenderResult {
  outDir: string;
  /** Paths relative to outDir, sorted. */
  files: string[];
}

/** Every file of the stage's render, relative path → content; nothing is written. */
export function renderFiles(site: Site, stage: StageName, outputs: readonly HostOutput[], options: NginxOptions = {}): Map<string, string> {
  const files = new Map<string, string>([['inventory/hosts.yml', renderInventory(site, stage, outputs)]]);
  for (const [path, text] of renderNginx(site, stage, outputs, options)) files.set(path, text);
  return files;
}

/** Marks a directory render made, so that render replaces only its own trees. */
export const RENDER_MARKER = '.homeprod-render';

/**
 * Renders the stage into options.outDir, replacing what was there: an earlier render, or an
 * empty or missing directory. Any other directory (a checkout, the site's folder) is refused
 * before anything in it is touched.
 */
export function render(site: Site, stage: StageName, outputs: readonly HostOutput[], options: RenderOptions): RenderResult {
  const outDir = resolve(options.outDir);
  if (!options.ownDir) refuseForeignDir(outDir);
  const files = renderFiles(site, stage, outputs, options);
  writeTree(outDir, new Map([...files, [RENDER_MARKER, `Rendered by homeprod for stage ${stage}; render replaces this directory as a whole.\n`]]));
  return { outDir, files: [...files.keys()].sort() };
}

function refuseForeignDir(dir: string): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new HomeprodError(`${dir} is not a directory; render writes a directory`, EXIT.usage);
    entries = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (entries.length > 0 && !entries.includes(RENDER_MARKER))
    throw new HomeprodError(`${dir} holds files render did not write (no ${RENDER_MARKER}); render replaces its output directory as a whole`, EXIT.usage, 'give --out an empty or new directory, or one an earlier render wrote');
}

/** The outputs of every stage as the model defines them, for rendering before any apply. */
export function outputsFromModel(site: Site): HostOutput[] {
  return STAGES.flatMap((stage) => expectedOutputs(site, stage));
}

export interface RenderContext {
  site: Site;
  /** Terraform outputs of every applied stage. */
  outputs: HostOutput[];
  rendered?: Partial<Record<StageName, RenderResult>>;
}

/** The render layer's steps: one per stage, each writing its tree. */
export function renderSteps(stage: StageName, options: RenderOptions): Step<Pick<RenderContext, 'site' | 'outputs' | 'rendered'>>[] {
  return [
    {
      title: `Render the ${stage} inventory and nginx configs`,
      task: (ctx, task) => {
        const result = render(ctx.site, stage, ctx.outputs, options);
        ctx.rendered = { ...ctx.rendered, [stage]: result };
        task.title = `Rendered ${result.files.length} files for ${stage} into ${result.outDir}`;
      },
    },
  ];
}
