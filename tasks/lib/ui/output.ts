// The one module that writes to the terminal outside listr2 tasks, so tests can capture it.
import { stripVTControlCharacters } from 'node:util';

export interface Output {
  line(text?: string): void;
  error(text: string): void;
  /** Whether colour may be used (a TTY, and NO_COLOR unset). */
  readonly color: boolean;
}

const colorAllowed = () => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

export const output: Output = {
  line: (text = '') => {
    process.stdout.write(`${colorAllowed() ? text : stripVTControlCharacters(text)}\n`);
  },
  error: (text) => {
    process.stderr.write(`${text}\n`);
  },
  get color() {
    return colorAllowed();
  },
};

/** An Output that records lines, for tests. */
export function captureOutput(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, color: false, line: (t = '') => lines.push(t), error: (t) => errors.push(t) };
}
