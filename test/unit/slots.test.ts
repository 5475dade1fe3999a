import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from '../../src/engine/slots.js';

test('a slot is free again once its run is over; outcomes still being stored are bounded by a budget of their own', () => {
  const slots = new Slots(1);
  assert.equal(slots.heldCapacity, 2);
  slots.take(1);
  assert.equal(slots.free, 0, 'one handler runs');
  slots.ran();
  assert.equal(slots.free, 1, 'its outcome is being stored: the next may start');
  slots.take(1);
  slots.ran();
  assert.equal(slots.free, 0, 'two outcomes being stored: no third task until one is');
  slots.stored();
  assert.equal(slots.free, 1);
  slots.stored();
  assert.equal(slots.free, 1, 'never more than one handler at once');
});

test('a slot given back unused frees both budgets, and a waiter hears of a free slot', async () => {
  const slots = new Slots(2);
  slots.take(2);
  const woken = slots.whenFree(new AbortController().signal);
  slots.release(1);
  await woken;
  assert.equal(slots.free, 1);
  slots.take(1);
  slots.ran();
  slots.ran();
  // Both runs are over and their two outcomes are held, of four: both slots are free for handlers.
  assert.equal(slots.free, 2);
  slots.stored();
  assert.equal(slots.free, 2, 'the handlers, not the outcomes, bound it now');
});

test('a waiter is not woken while the outcomes waiting to be stored fill their budget', async () => {
  const slots = new Slots(1);
  slots.take(1);
  slots.ran();
  slots.take(1);
  const order: string[] = [];
  const woken = slots.whenFree(new AbortController().signal).then(() => order.push('woken'));
  slots.ran();
  await new Promise((resolve) => setImmediate(resolve));
  order.push('run over');
  slots.stored();
  await woken;
  assert.deepEqual(order, ['run over', 'woken']);
});
