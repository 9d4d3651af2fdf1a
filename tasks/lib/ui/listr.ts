// One listr2 setup for every task: the live tree on a TTY, the plain renderer in CI,
// without a TTY or with --verbose. Plain output is for reading afterwards: by default only
// each step's result and the errors; with --verbose also each step's start and every line of
// the tools' output, each line labelled with the stack or stage it came from, since concurrent
// steps interleave. Task lists are data (`Step<Ctx>[]`); each layer exports a function
// returning its steps, and tasks/up.ts composes them.
import { EXIT } from './errors';
import {
  LISTR_LOGGER_STDERR_LEVELS,
  Listr,
  ListrLogger,
  ListrLogLevels,
  type ListrTask,
  type ListrTaskWrapper,
  type DefaultRenderer,
  type SimpleRenderer,
} from 'listr2';

export type Step<Ctx> = ListrTask<Ctx, typeof DefaultRenderer, typeof SimpleRenderer>;
export type StepTask<Ctx> = ListrTaskWrapper<Ctx, typeof DefaultRenderer, typeof SimpleRenderer>;

export interface RenderChoice {
  verbose?: boolean;
  /** Overrides detection (tests): true = plain renderer. */
  plain?: boolean;
  /** Tests: no output at all. */
  silent?: boolean;
}

/** Plain output whenever a live tree would be wrong: CI, no TTY, or asked for. */
export function wantsPlainRenderer(choice: RenderChoice = {}): boolean {
  if (choice.plain !== undefined) return choice.plain;
  return Boolean(choice.verbose) || Boolean(process.env.CI) || !process.stdout.isTTY;
}

/** The plain renderer's logger without --verbose: results, skips and failures; no starts, no tool output. */
class ResultsLogger extends ListrLogger {
  override log(level: string, message: string, options?: Parameters<ListrLogger['log']>[2]): void {
    if (level === ListrLogLevels.STARTED || level === ListrLogLevels.OUTPUT) return;
    super.log(level, message, options);
  }
}

export function createList<Ctx>(steps: Step<Ctx>[], choice: RenderChoice = {}): Listr<Ctx, 'default', 'simple'> {
  const plain = wantsPlainRenderer(choice);
  const logger = choice.verbose ? undefined : new ResultsLogger({ useIcons: true, toStderr: LISTR_LOGGER_STDERR_LEVELS });
  return new Listr<Ctx, 'default', 'simple'>(steps, {
    renderer: 'default',
    fallbackRenderer: 'simple',
    fallbackRendererCondition: () => plain,
    silentRendererCondition: () => Boolean(choice.silent),
    rendererOptions: { collapseSubtasks: false, showErrorMessage: true },
    fallbackRendererOptions: { timestamp: undefined, logger },
    exitOnError: true,
    collectErrors: false,
    // listr2 would exit 127 on Ctrl-C; runSteps exits with the documented code instead.
    registerSignalListeners: false,
  });
}

/**
 * Runs steps with the shared renderer choice and returns the final context. Ctrl-C stops the
 * run at once with exit 130: every step is safe to repeat, so the next run converges (child
 * processes get the same SIGINT from the terminal and stop on their own).
 */
export async function runSteps<Ctx extends object>(steps: Step<Ctx>[], ctx: Ctx, choice: RenderChoice = {}): Promise<Ctx> {
  const interrupted = () => {
    process.stderr.write('\ninterrupted: nothing more is started; the next run converges\n');
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', interrupted);
  try {
    return await createList(steps, choice).run(ctx);
  } finally {
    process.removeListener('SIGINT', interrupted);
  }
}

/**
 * Pipes a child process's output into the task, line by line, never straight to the terminal;
 * each line carries `label` (the stack or stage it is about): `[lab-proxy-vm] ...`.
 */
export function taskLog<Ctx>(task: StepTask<Ctx>, label: string): (chunk: string | Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) task.output = `[${label}] ${line}`;
  };
}
