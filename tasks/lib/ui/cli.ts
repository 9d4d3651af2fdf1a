// The shared shape of every task entry point: typed flags with --help (the common ones defined
// once here), and one place that turns expected failures into a one-line message and a
// documented exit code.
import { parseArgs } from 'node:util';
import { DEFAULT_SITE_FILE } from '../model';
import { STAGES, type StageName } from '../model/types';
import { EXIT, EXIT_CODES_HELP, HomeprodError } from './errors';
import { output, type Output } from './output';

/** One flag: its parseArgs shape and its line in --help. */
export interface Flag {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  help: string;
}

export type Flags = Record<string, Flag>;

export interface CommandSpec<F extends Flags> {
  /** e.g. "npx tsx tasks/check.ts [--site FILE]" */
  usage: string;
  summary: string;
  flags: F;
  allowPositionals?: boolean;
}

// ── The common flags ─────────────────────────────────────────────────────────────────────

/** --site FILE: every task that reads the site. */
export const siteFlag = { site: { type: 'string', help: `site file (default ${DEFAULT_SITE_FILE})` } } as const satisfies Flags;

/**
 * --verbose: plain, line-by-line output with every step's start and every tool line (without
 * a terminal the default is plain too, but only step results and errors); `help` says whose.
 */
export const verboseFlag = (help = 'plain, line-by-line output') => ({ verbose: { type: 'boolean', help } }) as const satisfies Flags;

/** --yes / -y: the confirmation a task would ask for, given up front. */
export const yesFlag = (help = 'do not ask for confirmation (required without a terminal)') => ({ yes: { type: 'boolean', short: 'y', help } }) as const satisfies Flags;

/** --insecure: the one way to skip verifying a platform API's certificate (Proxmox VE). */
export const insecureFlag = {
  insecure: { type: 'boolean', help: 'do not verify the Proxmox API certificate (prefer proxmox.caCert in the site)' },
} as const satisfies Flags;

/** --stage lab|prod (with `all`: also both). */
export const stageFlag = (help = 'lab or prod') => ({ stage: { type: 'string', help } }) as const satisfies Flags;

/** The site file the flags name. */
export const siteFile = (values: { site?: string }) => values.site ?? DEFAULT_SITE_FILE;

/** --stage as one stage. */
export const oneStage = (values: { stage?: string }): StageName => oneOf('stage', values.stage, STAGES);

/** --stage as a list: lab, prod, or (default) both in `allOrder`. */
export function stagesOf(values: { stage?: string }, allOrder: readonly StageName[]): StageName[] {
  const which = oneOf('stage', values.stage, [...STAGES, 'all'] as const, 'all');
  return which === 'all' ? [...allOrder] : [which];
}

// ── Parsing and help ─────────────────────────────────────────────────────────────────────

type Options<F extends Flags> = { [K in keyof F]: Omit<F[K], 'help'> };

export function helpText<F extends Flags>(spec: CommandSpec<F>): string {
  const names = Object.keys(spec.flags);
  const width = Math.max(...names.map((k) => k.length)) + 4;
  const lines = names.map((name) => `  --${name.padEnd(width)}${spec.flags[name]!.help}`);
  return `${spec.summary}\n\nUsage: ${spec.usage}\n\nOptions:\n${lines.join('\n')}\n  --${'help'.padEnd(width)}show this help\n\n${EXIT_CODES_HELP}\n`;
}

export function parseFlags<F extends Flags>(spec: CommandSpec<F>, argv: string[] = process.argv.slice(2)) {
  const options = Object.fromEntries(Object.entries(spec.flags).map(([name, { help: _help, ...option }]) => [name, option])) as Options<F>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } as const },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    return parsed as typeof parsed & { values: { help?: boolean } };
  } catch (error) {
    throw new HomeprodError((error as Error).message, EXIT.usage, `see ${spec.usage.split(' ').slice(0, 3).join(' ')} --help`);
  }
}

/** Validates a flag value against a fixed list, naming the flag on error. */
export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  throw new HomeprodError(`--${flag} must be one of ${allowed.join(', ')}${value === undefined ? '' : `, not "${value}"`}`, EXIT.usage);
}

// ── Running ──────────────────────────────────────────────────────────────────────────────

/**
 * A task's whole main: parses its flags, prints --help, runs `main` with the values and exits
 * with its code; expected failures never show a stack trace.
 */
export function command<F extends Flags>(spec: CommandSpec<F>, main: (values: ReturnType<typeof parseFlags<F>>['values'], out: Output) => Promise<number | void>): Promise<never> {
  return runMain(async (out) => {
    const { values } = parseFlags(spec);
    if (values.help) return out.line(helpText(spec));
    return main(values, out);
  });
}

/** Runs a task's main function and exits with its code; expected failures never show a stack trace. */
export async function runMain(main: (out: Output) => Promise<number | void>, out: Output = output): Promise<never> {
  let code: number;
  try {
    code = (await main(out)) ?? EXIT.ok;
  } catch (error) {
    code = reportError(error, out);
  }
  process.exit(code);
}

export function reportError(error: unknown, out: Output): number {
  if (error instanceof HomeprodError) {
    out.error(`error: ${error.message}`);
    for (const line of error.details) out.error(`  ${line}`);
    if (error.hint) out.error(`hint: ${error.hint}`);
    return error.exitCode;
  }
  // listr2 wraps task errors; unwrap to find an expected failure inside.
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof HomeprodError) return reportError(cause, out);
  out.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return EXIT.failed;
}
