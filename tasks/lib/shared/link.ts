// A link to a host: runs bash scripts on it as root, over ssh on every platform (a local shell
// in tests). The platform decides how ssh gets there; the layers only run scripts through it.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface RemoteRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Standard input: text, bytes or a stream (a tar archive). */
  input?: string | Buffer | Readable;
  /** Every chunk of stdout and stderr as it arrives. */
  onOutput?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

export interface ControlLink {
  /** The control node's host name, for messages. */
  host: string;
  /** Runs a bash script there as root; never throws on a non-zero exit. */
  run(script: string, options?: RunOptions): Promise<RemoteRun>;
}

/** Single-quotes a value for bash. */
export const q = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<RemoteRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => (out.push(chunk), options.onOutput?.(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (err.push(chunk), options.onOutput?.(chunk)));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({ exitCode: code ?? (signal ? 128 : 255), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    // A remote side that exits early closes the pipe; its exit code tells what happened.
    child.stdin.on('error', () => undefined);
    const input = options.input;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** A control node reached with ssh; `sshArgs` are the options and the destination. */
export function sshLink(host: string, sshArgs: string[]): ControlLink {
  return {
    host,
    // ssh hands the remote shell one string: quote the whole script as one bash -c argument.
    run: (script, options) => runProcess('ssh', [...sshArgs, '--', `bash -c ${q(script)}`], options),
  };
}

/** Runs the scripts on this machine: tests point the control node's directory at a temp dir. */
export function localLink(host = 'localhost'): ControlLink {
  return { host, run: (script, options) => runProcess('bash', ['-c', script], options) };
}
