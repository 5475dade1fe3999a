/**
 * The entry point of the handler threads (piscina loads it in each worker thread): imports the task's module once
 * per thread, runs it, and answers on the run's port. The thread may be terminated at any moment (deadline,
 * cancel): nothing here needs to run to the end for the main thread to stay consistent.
 */
import type { TaskContext, TaskLog } from './define.js';
import { importHandlerModule } from './import-module.js';
import { LOG_LEVELS, type ThreadMessage, type ThreadReply, type ThreadTask } from './thread-protocol.js';

type Run = (input: unknown, ctx: TaskContext) => unknown;

const modules = new Map<string, Promise<Run>>();

function load(file: string): Promise<Run> {
  let run = modules.get(file);
  if (!run) {
    run = importHandlerModule(file).then((definition) => {
      const fn = (definition as { run?: unknown } | null | undefined)?.run;
      if (typeof fn !== 'function') throw new Error(`${file} no longer default-exports a run function`);
      return fn as Run;
    });
    // A failed import is not kept: the next run tries again (the file may have been mid-write).
    run.catch(() => modules.delete(file));
    modules.set(file, run);
  }
  return run;
}

function context(task: ThreadTask): TaskContext {
  const post = (message: ThreadMessage) => task.port.postMessage(message);
  const log = Object.fromEntries(
    LOG_LEVELS.map((level) => [
      level,
      (fieldsOrMessage: unknown, message?: string) => {
        const [fields, msg] =
          typeof fieldsOrMessage === 'string' ? [{}, fieldsOrMessage] : [fieldsOrMessage, message];
        try {
          post({ type: 'log', level, fields: fields as Record<string, unknown>, msg });
        } catch {
          // Fields that cannot be cloned (a function, a socket): the line still goes, without them.
          post({ type: 'log', level, fields: { fields_unsendable: true }, msg });
        }
      },
    ]),
  ) as unknown as TaskLog;
  return {
    taskId: task.taskId,
    attempt: task.attempt,
    // The thread is terminated at the deadline or on cancel rather than asked to stop: this never fires.
    signal: new AbortController().signal,
    log,
    progress: (percent, message) => {
      try {
        post({ type: 'progress', percent, message });
      } catch {
        // Progress must never fail the work it reports on; the main thread checks the values anyway.
      }
    },
  };
}

function failure(err: unknown): ThreadReply {
  const e = err as { message?: unknown; name?: unknown; retryable?: unknown } | null;
  return {
    ok: false,
    message: err instanceof Error ? err.message || err.name : String(err),
    name: typeof e?.name === 'string' ? e.name : 'Error',
    retryable: e?.retryable === false ? false : undefined,
  };
}

export default async function runInThread(task: ThreadTask): Promise<void> {
  let reply: ThreadReply;
  try {
    const run = await load(task.file);
    reply = { ok: true, value: await run(task.input, context(task)) };
  } catch (err) {
    reply = failure(err);
  }
  try {
    task.port.postMessage({ type: 'end', reply } satisfies ThreadMessage);
  } catch (err) {
    // A result that cannot be cloned (a function, a class instance holding one) fails the run, without a retry.
    task.port.postMessage({
      type: 'end',
      reply: {
        ok: false,
        message: `the result cannot be sent from the thread: ${(err as Error).message}`,
        name: 'DataCloneError',
        retryable: false,
      },
    } satisfies ThreadMessage);
  }
  task.port.close();
}
