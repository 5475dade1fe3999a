/**
 * The exit codes of the `taskd` CLI, for scripts (docs/cli.md). A task's own end decides when a command waits for
 * it; otherwise the request's outcome does.
 */
export const EXIT = {
  /** Done; a waited-for task completed. */
  OK: 0,
  /** A waited-for task failed, or the service refused the operation (409: already finished, not retryable). */
  FAILED: 1,
  /** A waited-for task was cancelled. */
  CANCELLED: 2,
  /** The command line is wrong, or the service refused the request as invalid (400, 422). */
  USAGE: 3,
  /** No such task, queue or schedule (404). */
  NOT_FOUND: 4,
  /** The service cannot be reached, or answered with an error of its own (401, 429, 5xx). */
  UNAVAILABLE: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the CLI with `exitCode`, its message printed to stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an error answer of the service. */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 409) return EXIT.FAILED;
  if (status === 400 || status === 413 || status === 422) return EXIT.USAGE;
  return EXIT.UNAVAILABLE;
}

/** The exit code for a task that has ended (or not: then the command itself succeeded). */
export function exitCodeForState(state: string): ExitCode {
  if (state === 'failed') return EXIT.FAILED;
  if (state === 'cancelled') return EXIT.CANCELLED;
  return EXIT.OK;
}
