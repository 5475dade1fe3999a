import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import type { Task } from '../client/index.js';
import { CliError, EXIT, exitCodeForStatus } from './exit-codes.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export interface FollowOptions {
  baseUrl: string;
  token?: string | undefined;
  id: string;
  /** Called with the task at once and after every change (state, attempt, progress). */
  onTask: (task: Task) => void;
}

/**
 * Follows a task through its event stream (`GET /v1/tasks/{id}/events`) until it ends, and returns it as it
 * ended. A stream that closes before (the instance serving it shuts down) is opened again.
 */
export async function followTask(options: FollowOptions): Promise<Task> {
  const url = `${options.baseUrl.replace(/\/$/, '')}/v1/tasks/${encodeURIComponent(options.id)}/events`;
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  for (let reconnect = 0; ; reconnect++) {
    if (reconnect > 0) await sleep(Math.min(200 * reconnect, 2000));
    let response: Response;
    try {
      response = await fetch(url, { headers });
    } catch (err) {
      throw unreachable(options.baseUrl, err);
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => undefined)) as
        { error?: string; code?: string } | undefined;
      throw new CliError(
        `${body?.error ?? `HTTP ${response.status}`}${body?.code ? ` (${body.code})` : ''}`,
        exitCodeForStatus(response.status),
      );
    }
    let last: Task | undefined;
    const parser = createParser({
      onEvent: (event) => {
        if (event.event !== 'task') return;
        last = JSON.parse(event.data) as Task;
        options.onTask(last);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
    } catch {
      // The connection broke mid-stream: open it again, as when the stream ends early.
    }
    if (last && TERMINAL.has(last.state)) return last;
  }
}

/** The error for a service that cannot be reached at all. */
export function unreachable(baseUrl: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach taskd at ${baseUrl}: ${why}`, EXIT.UNAVAILABLE);
}
