import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ClaimedTask, Outcome } from '../../src/domain/task.js';
import { TaskAbort } from '../../src/engine/abort.js';
import { Execution, type ExecutionEvents } from '../../src/engine/executor.js';
import type { HandlerContext } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';

const log = createLogger('silent');

const task = (id: string): ClaimedTask => ({
  id,
  handler: 'test',
  queue: 'default',
  waitedMs: 0,
  input: null,
  json: true,
  timeoutMs: 60_000,
  attempt: 1,
  maxAttempts: 1,
  attemptBase: 0,
  backoff: {},
});

/** Records what the runs told their owner. */
function recorder() {
  const outcomes: Outcome[] = [];
  const events: ExecutionEvents = {
    outcome: (_e, outcome) => outcomes.push(outcome),
    handlerReturned: () => {},
    progress: () => {},
  };
  return { outcomes, events };
}

// Every AbortController made while a test runs, counted through the global the executor constructs them with.
const RealAbortController = globalThis.AbortController;
let controllersMade = 0;
beforeEach(() => {
  controllersMade = 0;
  globalThis.AbortController = class extends RealAbortController {
    constructor() {
      super();
      controllersMade++;
    }
  };
});
afterEach(() => {
  globalThis.AbortController = RealAbortController;
});

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('a run and its signal', () => {
  test('a handler that never reads its signal costs no AbortController, and its run still aborts', async () => {
    const { outcomes, events } = recorder();
    const runs = Array.from({ length: 100 }, (_, i) => new Execution(task(`t${i}`), events, log));
    for (const run of runs) run.start(() => new Promise(() => {}));
    runs[0]!.abort(new TaskAbort('shutdown', 'stopping'));
    await tick();
    assert.equal(controllersMade, 0);
    assert.equal(runs[0]!.abortedBy?.kind, 'shutdown');
    assert.equal(runs[1]!.abortedBy, undefined);
    assert.equal(outcomes.length, 1);
    const outcome = outcomes[0]!;
    assert.deepEqual(
      { kind: outcome.kind, failure: outcome.kind === 'failed' && outcome.failure },
      { kind: 'failed', failure: 'shutdown' },
    );
    for (const run of runs) run.abort(new TaskAbort('shutdown', 'stopping'));
  });

  test('a signal read before the abort hears it, with the reason; the first reason stays', async () => {
    const { events } = recorder();
    const run = new Execution(task('a'), events, log);
    let ctx: HandlerContext | undefined;
    const heard: unknown[] = [];
    run.start((_input, c) => {
      ctx = c;
      c.signal.addEventListener('abort', () => heard.push(c.signal.reason));
      return new Promise(() => {});
    });
    assert.equal(ctx!.signal.aborted, false);
    const reason = new TaskAbort('cancelled', 'cancelled by a client');
    run.abort(reason);
    run.abort(new TaskAbort('shutdown', 'stopping'));
    await tick();
    assert.deepEqual(heard, [reason]);
    assert.equal(ctx!.signal.reason, reason);
    assert.equal(run.abortedBy, reason);
    assert.equal(controllersMade, 1);
  });

  test('a signal first read after the abort is already aborted, with the reason', async () => {
    const { events } = recorder();
    const run = new Execution(task('b'), events, log);
    let ctx: HandlerContext | undefined;
    run.start((_input, c) => {
      ctx = c;
      return new Promise(() => {});
    });
    assert.equal(controllersMade, 0);
    const reason = new TaskAbort('timeout', 'took too long');
    run.abort(reason);
    await tick();
    assert.equal(ctx!.signal.aborted, true);
    assert.equal(ctx!.signal.reason, reason);
    // The same signal at every read.
    assert.equal(ctx!.signal, ctx!.signal);
    assert.equal(controllersMade, 1);
  });

  test("the context's own properties are signal, taskId, attempt, log and progress, in that order", () => {
    const { events } = recorder();
    const run = new Execution(task('c'), events, log);
    let keys: string[] = [];
    run.start((_input, c) => {
      keys = Object.keys(c);
      return undefined;
    });
    assert.deepEqual(keys, ['signal', 'taskId', 'attempt', 'log', 'progress']);
    assert.equal(controllersMade, 0);
  });
});
