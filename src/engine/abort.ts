/**
 * Why a running task's signal was aborted. Handlers and the executor read `signal.reason` to tell a deadline
 * from a shutdown from a lost lease.
 */
export type AbortKind = 'timeout' | 'shutdown' | 'lease_lost' | 'cancelled';

export class TaskAbort extends Error {
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
    this.name = 'TaskAbort';
  }
}

export function abortReason(signal: AbortSignal): TaskAbort | undefined {
  return signal.aborted && signal.reason instanceof TaskAbort ? signal.reason : undefined;
}
