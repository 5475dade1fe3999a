import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { newTaskId, setTaskIdShard, taskIdShard, taskIdTime } from '../../src/domain/task-id.js';

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

test('with a shard set, every id carries it in the two hex digits after the version, and keeps its time', () => {
  try {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (shard, ms) => {
        setTaskIdShard(shard);
        const id = newTaskId(ms);
        assert.match(id, V7);
        assert.equal(id.slice(15, 17), shard.toString(16).padStart(2, '0'));
        assert.equal(taskIdShard(id), shard);
        assert.equal(taskIdTime(id), ms);
      }),
    );
  } finally {
    setTaskIdShard(undefined);
  }
});

test('sharded ids of one millisecond still differ and still sort by time', () => {
  setTaskIdShard(0xa7);
  try {
    const same = new Set(Array.from({ length: 2000 }, () => newTaskId(1_790_000_000_000)));
    assert.equal(same.size, 2000);
    assert.ok(newTaskId(1_790_000_000_000) < newTaskId(1_790_000_000_001));
  } finally {
    setTaskIdShard(undefined);
  }
});

test('without a shard the bits after the version are random; other ids have no shard; bad shards are refused', () => {
  // 4,000 unsharded ids over 256 values: all in one shard would be a broken generator, not bad luck.
  const seen = new Set(Array.from({ length: 4000 }, () => taskIdShard(newTaskId())));
  assert.ok(seen.size > 200, `only ${seen.size} distinct values`);
  assert.equal(taskIdShard(randomUUID()), undefined);
  assert.equal(taskIdShard('not an id'), undefined);
  assert.equal(taskIdShard('0193a1b2-c3d4-7zz5-8000-000000000000'), undefined);
  assert.equal(taskIdShard('0193A1B2-C3D4-7AB5-8000-000000000000'), 0xab);
  for (const bad of [-1, 256, 1.5, Number.NaN]) assert.throws(() => setTaskIdShard(bad), RangeError);
});
