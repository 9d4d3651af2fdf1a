// Expected failures and the exit codes every task documents in its --help.
// Anything that is not a HomeprodError is a bug and keeps its stack trace.

export const EXIT = {
  ok: 0,
  /** The site is invalid, or a verification failed. */
  failed: 1,
  /** Bad command-line usage. */
  usage: 2,
  /** A precondition is missing: not root, a package or a tool is missing, no cluster reachable. */
  precondition: 3,
  /** A safety gate refused: data loss, unverified promotion, confirmation needed without a TTY. */
  refused: 4,
  /** Another run holds the lock. */
  locked: 5,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   the site is invalid, or a step or verification failed
  2   bad command-line usage
  3   a precondition is missing (root, a package, a reachable cluster)
  4   a safety gate refused (data loss, unverified promotion, confirmation needed: pass the named flag)
  5   another run holds the lock
  130 interrupted`;

/** A failure the user can act on: printed as one line (plus an optional hint), no stack trace. */
export class HomeprodError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    readonly hint?: string,
    /** Extra lines printed under the message, e.g. one per invalid field. */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'HomeprodError';
  }
}
