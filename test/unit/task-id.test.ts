import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { newTaskId, taskIdTime } from '../../src/domain/task-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a task id is a UUID version 7 that carries the time it was made', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (ms) => {
      const id = newTaskId(ms);
      assert.match(id, V7);
      assert.equal(taskIdTime(id), ms);
    }),
  );
});

test('ids made later sort later, and ids of one millisecond differ', () => {
  const a = newTaskId(1_790_000_000_000);
  const b = newTaskId(1_790_000_000_001);
  assert.ok(a < b);
  const same = new Set(Array.from({ length: 2000 }, () => newTaskId(1_790_000_000_000)));
  assert.equal(same.size, 2000);
});

test('ids of other versions (made before time-ordered ids) have no time', () => {
  assert.equal(taskIdTime(randomUUID()), undefined);
  assert.equal(taskIdTime('not an id'), undefined);
});
