import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, decide } from '../../src/domain/outcome.js';
import type { ClaimedTask } from '../../src/domain/task.js';
import { outcomes } from '../../src/domain/task.js';

const backoff = { baseMs: 100, maxMs: 1000 };
const limits = { maxResultBytes: 1 << 20, backoff };
const task = (fields: Partial<ClaimedTask> = {}): ClaimedTask => ({
  id: 't',
  handler: 'k',
  queue: 'default',
  waitedMs: 0,
  input: 'x',
  json: true,
  timeoutMs: 1000,
  attempt: 1,
  maxAttempts: 3,
  attemptBase: 0,
  backoff: {},
  ...fields,
});

test('backoff grows exponentially up to its cap, and full jitter spreads it from zero to there', () => {
  const top = () => 0.999999;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, backoff, top)),
    [99, 199, 399, 799, 999, 999],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelay(n, backoff, () => 0)),
    [0, 0, 0],
  );
});

test('retryable failures are retried while attempts are left; final ones and the last attempt fail', () => {
  assert.equal(decide(outcomes.failed('error', 'x'), task(), limits).state, 'scheduled');
  assert.equal(decide(outcomes.failed('timeout', 'x'), task(), limits).state, 'scheduled');
  assert.equal(decide(outcomes.failed('error', 'x', false), task(), limits).state, 'failed');
  assert.equal(decide(outcomes.failed('no_handler', 'x'), task(), limits).state, 'failed');
  assert.equal(decide(outcomes.failed('error', 'x'), task({ attempt: 3 }), limits).state, 'failed');
  // After a retry by hand at attempt 3, the task may run max_attempts more times.
  assert.equal(
    decide(outcomes.failed('error', 'x'), task({ attempt: 4, attemptBase: 3 }), limits).state,
    'scheduled',
  );
  // The task's own backoff wins over the default.
  const own = decide(outcomes.failed('error', 'x'), task({ backoff: { maxMs: 5 } }), limits);
  assert.ok(own.state === 'scheduled' && own.delayMs < 5);
});

test('a v1 result is stored as JSON text; one of the original API as its Result text', () => {
  assert.deepEqual(decide(outcomes.completed({ a: 'b\u0000' }), task(), limits), {
    state: 'completed',
    result: '',
    output: '{"a":"b\uFFFD"}',
  });
  assert.deepEqual(decide(outcomes.completed('plain'), task({ json: false }), limits), {
    state: 'completed',
    result: 'plain',
  });
  assert.deepEqual(decide(outcomes.completed(undefined), task(), limits), {
    state: 'completed',
    result: '',
    output: 'null',
  });
});

test("a handler's minimum retry delay (Retry-After) holds, up to the backoff's cap", () => {
  const wait = (retryAfterMs: number) => {
    const d = decide(outcomes.failed('error', 'HTTP 503', undefined, retryAfterMs), task(), limits);
    assert.equal(d.state, 'scheduled');
    return d.state === 'scheduled' ? d.delayMs : -1;
  };
  assert.equal(wait(700), 700); // above anything the first retry's backoff (up to 99 ms) could pick
  assert.equal(wait(60_000), backoff.maxMs);
  // Not retryable is not retryable, whatever the delay.
  assert.equal(decide(outcomes.failed('error', 'HTTP 404', false, 500), task(), limits).state, 'failed');
});
