// A private copy of the Pegasus site for end-to-end runs of the task CLIs: its own namespace
// prefix, state root, synth directory and loopback ports, so it never meets another run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { $ } from 'zx';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Run {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface CliSite {
  work: string;
  /** HOMEPROD_STATE_ROOT of the runs. */
  state: string;
  siteFile: string;
  /** The stacks' synth directory (HOMEPROD_CDKTF_OUT), absolute. */
  synthDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs `npx tsx tasks/<script>.ts args…` in the project with this site's environment. */
  run(script: string, ...args: string[]): Promise<Run>;
  /** Every run's output so far, for the secrets check. */
  printed: string[];
  /** Removes every machine, the state root and the synth directory. */
  cleanup(): Promise<void>;
}

/**
 * `checkout` names a second checkout of the same site (its own state root and synth directory,
 * the same machines when its env points HOMEPROD_STATE_DIR at the first's).
 */
export function cliSite(opts: { prefix: string; httpPort: number; httpsPort: number; edit?: (doc: Document) => void; env?: NodeJS.ProcessEnv; checkout?: string }): CliSite {
  const name = opts.checkout ? `${opts.prefix}-${opts.checkout}` : opts.prefix;
  const work = mkdtempSync(join(ROOT, `.state-e2e-${name}-`));
  const state = join(work, 'state');
  const siteFile = join(work, 'site.yaml');
  const synthDir = join(ROOT, `cdktf.out.e2e-${name}`);
  const env = {
    ...process.env,
    CI: '1',
    NO_COLOR: '1',
    HOMEPROD_NS_PREFIX: opts.prefix,
    HOMEPROD_STATE_ROOT: state,
    HOMEPROD_CDKTF_OUT: `cdktf.out.e2e-${name}`,
    ...opts.env,
  };
  const doc = parseDocument(readFileSync(join(ROOT, 'inventory/site.yaml'), 'utf8'));
  doc.setIn(['stages', 'prod', 'forward', 'httpPort'], opts.httpPort);
  doc.setIn(['stages', 'prod', 'forward', 'httpsPort'], opts.httpsPort);
  opts.edit?.(doc);
  writeFileSync(siteFile, doc.toString());
  const printed: string[] = [];
  const run = async (script: string, ...args: string[]): Promise<Run> => {
    const r = await $({ cwd: ROOT, env, nothrow: true, quiet: true })`npx --no-install tsx ${`tasks/${script}.ts`} ${args}`;
    printed.push(r.stdout, r.stderr);
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
  const cleanup = async () => {
    await run('local', 'clean', '--destroy-data');
    rmSync(work, { recursive: true, force: true });
    rmSync(synthDir, { recursive: true, force: true });
  };
  return { work, state, siteFile, synthDir, env, run, printed, cleanup };
}

/** Fails with the run's own output, so a failure says what happened. */
export function expectExit(r: Run, code: number): void {
  if (r.exitCode !== code) throw new Error(`expected exit ${code}, got ${r.exitCode}\n--- stdout (end)\n${r.stdout.slice(-5000)}\n--- stderr\n${r.stderr.slice(-3000)}`);
}
