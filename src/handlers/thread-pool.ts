import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import type { EventBus } from '../events/bus.js';
import type { Handler, HandlerContext } from './registry.js';
import { LOG_LEVELS, type ThreadMessage, type ThreadReply, type ThreadTask } from './thread-protocol.js';

/** How long an idle thread is kept for the next run before it ends (a new one costs its start-up and imports). */
const IDLE_TIMEOUT_MS = 30_000;

// The worker entry sits beside this file: thread-worker.js in dist/, thread-worker.ts when run from sources.
const WORKER_FILE = fileURLToPath(
  new URL(`./thread-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

const levels: ReadonlySet<string> = new Set(LOG_LEVELS);

/**
 * The worker threads that run handlers of `isolation: "thread"`: a piscina pool of at most `maxThreads`,
 * started on first use. A run's abort signal (deadline, cancel, shutdown, lost lease) makes piscina terminate the
 * thread the run is on, whatever the handler is doing: a handler that spins on the CPU stops with its task, and
 * never holds the main event loop. Runs beyond `maxThreads` wait for a thread, their deadline counting.
 */
export class HandlerThreads {
  private pool: Piscina | undefined;
  private closed = false;

  constructor(private readonly options: { maxThreads: number; bus: EventBus }) {}

  /** The handler of the module at `file` (an absolute path), run in a thread. */
  handlerFor(file: string): Handler {
    return (input, ctx) => this.run(file, input, ctx);
  }

  /** Threads alive now. */
  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** The pool, made on the first run: piscina is loaded then, not at start-up, since most processes need none. */
  private async piscina(): Promise<Piscina> {
    if (this.closed) throw new Error('the handler threads are closed');
    if (!this.pool) {
      const { Piscina } = await import('piscina');
      if (this.closed) throw new Error('the handler threads are closed');
      if (this.pool) return this.pool;
      const pool = new Piscina({
        filename: WORKER_FILE,
        minThreads: 0,
        maxThreads: this.options.maxThreads,
        idleTimeout: IDLE_TIMEOUT_MS,
      });
      const { bus } = this.options;
      pool.on('workerCreate', () => bus.emit('handler_thread.started', { threads: pool.threads.length }));
      // Piscina ends a thread (idle, its run aborted, crashed) and then forgets it: count once it has.
      pool.on('workerDestroy', () =>
        setImmediate(() => bus.emit('handler_thread.ended', { threads: pool.threads.length })),
      );
      this.pool = pool;
    }
    return this.pool;
  }

  private async run(file: string, input: unknown, ctx: HandlerContext): Promise<unknown> {
    const { port1, port2 } = new MessageChannel();
    const ended = new Promise<ThreadReply>((resolve) => {
      port1.on('message', (m: ThreadMessage) => {
        if (m.type === 'end') resolve(m.reply);
        else if (m.type === 'progress') ctx.progress(m.percent as number | null, m.message as string | null);
        else if (levels.has(m.level)) ctx.log[m.level](m.fields, m.msg);
      });
      port1.on('close', () =>
        resolve({
          ok: false,
          message: 'the handler thread ended without a reply',
          name: 'Error',
          retryable: undefined,
        }),
      );
    });
    try {
      const task: ThreadTask = { file, input, taskId: ctx.taskId, attempt: ctx.attempt, port: port2 };
      // Aborting the signal rejects at once and terminates the thread if the run has started on one.
      const pool = await this.piscina();
      await pool.run(task, { signal: ctx.signal, transferList: [port2] });
      const reply = await ended;
      if (reply.ok) return reply.value;
      throw Object.assign(new Error(reply.message), {
        name: reply.name,
        ...(reply.retryable === false && { retryable: false }),
      });
    } finally {
      port1.close();
    }
  }

  /** Terminates every thread (running handlers included) and refuses further runs. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.destroy();
  }
}
