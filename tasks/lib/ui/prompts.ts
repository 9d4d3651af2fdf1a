// The one module every question to the user goes through. Tasks take a `Prompter`, so tests
// inject scripted answers and nothing ever waits on a terminal that is not there.
import { confirm, input, password, select } from '@inquirer/prompts';
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer';
import { EXIT, HomeprodError } from './errors';
import type { StepTask } from './listr';

/** `true` when valid, else the message shown under the prompt before it asks again. */
export type Validate = (value: string) => true | string;

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
}

export interface Prompter {
  input(question: { message: string; default?: string; validate?: Validate }): Promise<string>;
  select<T>(question: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  confirm(question: { message: string; default?: boolean }): Promise<boolean>;
}

/** Whether a person can answer: both ends are a terminal and this is not CI. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
}

/** Ctrl-C inside a prompt is an interruption, not a crash with a stack trace. */
async function interruptible<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (error) {
    if ((error as Error | undefined)?.name === 'ExitPromptError') throw new HomeprodError('interrupted', EXIT.interrupted);
    throw error;
  }
}

/** Real prompts on the terminal (@inquirer/prompts). */
export const terminalPrompter: Prompter = {
  input: (q) => interruptible(input({ message: q.message, default: q.default, validate: q.validate })),
  select: <T>(q: { message: string; choices: Choice<T>[]; default?: T }) => interruptible(select<T>({ message: q.message, choices: q.choices, default: q.default })),
  confirm: (q) => interruptible(confirm({ message: q.message, default: q.default })),
};

/** A yes/no question inside a running listr2 task, through the inquirer adapter (the tree stays intact). */
export async function confirmInTask<Ctx>(task: StepTask<Ctx>, message: string, fallback = false): Promise<boolean> {
  return interruptible(task.prompt(ListrInquirerPromptAdapter).run(confirm, { message, default: fallback }));
}

/** One of a few choices inside a running listr2 task, through the inquirer adapter. */
export async function selectInTask<Ctx, T>(task: StepTask<Ctx>, question: { message: string; choices: Choice<T>[]; default?: T }): Promise<T> {
  return interruptible(task.prompt(ListrInquirerPromptAdapter).run(select<T>, { message: question.message, choices: question.choices, default: question.default })) as Promise<T>;
}

/** A secret typed inside a running listr2 task (masked; never echoed or logged). */
export async function secretInTask<Ctx>(task: StepTask<Ctx>, message: string): Promise<string> {
  return String(await interruptible(task.prompt(ListrInquirerPromptAdapter).run(password, { message, mask: '*' })));
}

/** One scripted answer; `undefined` takes the question's default. */
export type ScriptedAnswer = string | boolean | undefined;

/**
 * A Prompter answering from a script, for tests. Inputs run the same `validate` as the terminal:
 * a rejected answer is recorded and the next scripted answer is tried, as a person would retype.
 * Select answers match a choice's value (or its name).
 */
export function scriptedPrompter(script: ScriptedAnswer[]): Prompter & { asked: string[]; rejected: Array<{ message: string; answer: string; reason: string }> } {
  const queue = [...script];
  const asked: string[] = [];
  const rejected: Array<{ message: string; answer: string; reason: string }> = [];
  const next = (message: string): ScriptedAnswer => {
    if (queue.length === 0) throw new Error(`scripted prompter: no answer left for "${message}"`);
    return queue.shift();
  };
  return {
    asked,
    rejected,
    async input(q) {
      asked.push(q.message);
      for (;;) {
        const raw = next(q.message);
        const value = raw === undefined ? (q.default ?? '') : String(raw);
        const verdict = q.validate ? q.validate(value) : true;
        if (verdict === true) return value;
        rejected.push({ message: q.message, answer: value, reason: verdict });
      }
    },
    async select<T>(q: { message: string; choices: Choice<T>[]; default?: T }) {
      asked.push(q.message);
      const raw = next(q.message);
      if (raw === undefined) return q.default ?? q.choices[0]!.value;
      const hit = q.choices.find((c) => String(c.value) === String(raw) || c.name === raw);
      if (!hit) throw new Error(`scripted prompter: "${String(raw)}" is not a choice of "${q.message}" (${q.choices.map((c) => String(c.value)).join(', ')})`);
      return hit.value;
    },
    async confirm(q) {
      asked.push(q.message);
      const raw = next(q.message);
      return raw === undefined ? (q.default ?? false) : raw === true || raw === 'y' || raw === 'yes';
    },
  };
}
