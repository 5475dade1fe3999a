import type { MessagePort } from 'node:worker_threads';

/** The levels a handler's `ctx.log` has, in a thread as on the main thread. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One run, as posted to a worker thread. Everything but `port` crosses by structured clone. */
export interface ThreadTask {
  file: string;
  input: unknown;
  taskId: string;
  attempt: number;
  /** The run's own channel back to the main thread: progress, log lines, and last its reply. */
  port: MessagePort;
}

/** How a run in a thread ended. Errors cross as their message, name and `retryable`, not as objects. */
export type ThreadReply =
  { ok: true; value: unknown } | { ok: false; message: string; name: string; retryable: boolean | undefined };

/**
 * What a thread sends on a run's port, in order: progress and log lines as the handler makes them, then `end`
 * with the reply. One port carries all of it, so nothing the handler reported arrives after its result.
 */
export type ThreadMessage =
  | { type: 'progress'; percent: unknown; message: unknown }
  | { type: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string | undefined }
  | { type: 'end'; reply: ThreadReply };
