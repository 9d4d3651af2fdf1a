// The shared shape of every task entry point: typed flags with --help, and one place that
// turns expected failures into a one-line message and a documented exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, EXIT_CODES_HELP, HomeprodError } from './errors';
import { output, type Output } from './output';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  /** e.g. "npx tsx tasks/check.ts [--site FILE]" */
  usage: string;
  summary: string;
  options: O;
  /** One line per option, shown by --help. */
  optionHelp: Record<keyof O & string, string>;
  allowPositionals?: boolean;
}

export function helpText<O extends Options>(spec: CommandSpec<O>): string {
  const width = Math.max(...Object.keys(spec.optionHelp).map((k) => k.length)) + 4;
  const lines = Object.entries(spec.optionHelp).map(([name, text]) => `  --${name.padEnd(width)}${text}`);
  return `${spec.summary}\n\nUsage: ${spec.usage}\n\nOptions:\n${lines.join('\n')}\n  --${'help'.padEnd(width)}show this help\n\n${EXIT_CODES_HELP}\n`;
}

export function parseFlags<O extends Options>(spec: CommandSpec<O>, argv: string[] = process.argv.slice(2)) {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
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
