// The add-service wizard: gather a service (flags first, prompts for the rest), add it to the
// site file's `services` without disturbing anything else, prove the WHOLE site still validates,
// show the diff, and only then replace the file atomically.
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { EXIT, HomeprodError } from '../ui/errors';
import { loadSite, validateSite, type StageName } from '../model';
import type { Output } from '../ui/output';
import type { Prompter } from '../ui/prompts';
import { gatherAnswers, type ServiceAnswers, type ServiceFlags } from './answers';
import { insertService, serviceEntry } from './site-file';

export { gatherAnswers, type ServiceAnswers, type ServiceFlags } from './answers';
export { insertService, serviceEntry } from './site-file';

export interface AddServiceOptions {
  siteFile: string;
  flags: ServiceFlags;
  /** Skip the write confirmation. */
  yes: boolean;
  /** true: run `up --stage lab` after writing; false: print it; undefined: ask (when interactive). */
  up?: boolean;
  interactive: boolean;
  prompts: Prompter;
  out: Output;
  /** Runs `up` for the lab (inherited stdio) and returns its exit code. */
  runUp?: (args: string[]) => Promise<number>;
}

/** The whole wizard; returns the exit code. Nothing is written unless the full site validates and the user agrees. */
export async function addService(opts: AddServiceOptions): Promise<number> {
  const site = loadSite(opts.siteFile);
  const answers = await gatherAnswers(site, opts.flags, opts);
  if (!(await writeService(answers, opts))) return EXIT.ok;
  return offerUp(opts, answers.stage);
}

/**
 * Adds the service to the site file: validate the whole resulting site, show the diff, confirm,
 * rename into place. Returns whether it wrote; throws (writing nothing) when the site would be invalid.
 */
export async function writeService(answers: ServiceAnswers, opts: Pick<AddServiceOptions, 'siteFile' | 'yes' | 'interactive' | 'prompts' | 'out'>): Promise<boolean> {
  const { siteFile, out } = opts;
  const before = readFileSync(siteFile, 'utf8');
  const after = insertService(before, serviceEntry(answers));

  // The candidate sits beside the site file so relative imports resolve, and becomes it by rename.
  const candidate = join(dirname(siteFile), `.${basename(siteFile)}.add-service-${process.pid}.tmp`);
  let written = false;
  try {
    const mode = statSync(siteFile).mode & 0o777;
    writeFileSync(candidate, after, { mode });
    chmodSync(candidate, mode);
    const { errors } = validateSite(candidate);
    if (errors.length > 0) {
      const shown = relative(process.cwd(), siteFile) || siteFile;
      const details = errors.map((e) => e.replace(relative(process.cwd(), candidate), shown).replace(candidate, shown));
      throw new HomeprodError(`the site would not be valid with service "${answers.name}"; nothing was written:`, EXIT.failed, undefined, details);
    }
    for (const line of await unifiedDiff(siteFile, candidate)) out.line(colorDiffLine(line, out.color));
    out.line();
    if (!opts.yes) {
      if (!opts.interactive) throw new HomeprodError(`not written: pass --yes to write ${siteFile} without a terminal`, EXIT.refused);
      if (!(await opts.prompts.confirm({ message: `Write this change to ${siteFile}?`, default: true }))) {
        out.line('Nothing written.');
        return false;
      }
    }
    renameSync(candidate, siteFile);
    written = true;
  } finally {
    if (!written && existsSync(candidate)) rmSync(candidate);
  }
  out.line(`Added service ${answers.name} (${answers.hostname}, ${answers.stage}) to ${siteFile}.`);
  return true;
}

/** Every change goes through lab first; a prod service then reaches prod by promotion. */
async function offerUp(opts: AddServiceOptions, stage: StageName): Promise<number> {
  const { out } = opts;
  const siteArgs = opts.siteFile === 'inventory/site.yaml' ? [] : ['--site', opts.siteFile];
  const upArgs = ['--stage', 'lab', ...siteArgs];
  const command = `npx tsx tasks/up.ts ${upArgs.join(' ')}`;
  const promote = stage === 'prod' ? `; once lab verifies, promote with: npx tsx tasks/up.ts ${['--stage', 'prod', ...siteArgs].join(' ')}` : '';
  const run = opts.up ?? (opts.interactive ? await opts.prompts.confirm({ message: `Run ${command} now?`, default: false }) : false);
  if (!run) {
    out.line(`Next: ${command}${promote}`);
    return EXIT.ok;
  }
  const code = await (opts.runUp ?? runUp)([...upArgs, '--yes']);
  if (code === EXIT.ok && promote) out.line(promote.slice(2));
  return code;
}

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** `up` in its own process, on this terminal: its listr2 tree needs the real stdout. */
async function runUp(args: string[]): Promise<number> {
  const result = await $({ cwd: projectRoot, stdio: 'inherit', nothrow: true })`npx tsx tasks/up.ts ${args}`;
  return result.exitCode ?? EXIT.failed;
}

/** `diff -u` of the site file against the candidate, labelled with the site file's name. */
export async function unifiedDiff(from: string, to: string): Promise<string[]> {
  const rel = relative(process.cwd(), from);
  const [a, b] = rel && !rel.startsWith('..') ? [`a/${rel}`, `b/${rel}`] : [from, from];
  const result = await $({ nothrow: true, quiet: true })`diff -u --label ${a} --label ${b} ${from} ${to}`;
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new HomeprodError(`diff failed: ${result.stderr.trim()}`, EXIT.precondition);
  return result.stdout.replace(/\n$/, '').split('\n');
}

function colorDiffLine(line: string, color: boolean): string {
  if (!color) return line;
  if (line.startsWith('+') && !line.startsWith('+++')) return `\x1b[32m${line}\x1b[0m`;
  if (line.startsWith('-') && !line.startsWith('---')) return `\x1b[31m${line}\x1b[0m`;
  if (line.startsWith('@@')) return `\x1b[36m${line}\x1b[0m`;
  return line;
}
