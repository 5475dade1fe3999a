import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deadlines, type Timed } from '../../src/engine/deadlines.js';

interface Item extends Timed {
  name: string;
  addedAt: number;
}

function item(name: string): Item {
  return { name, addedAt: 0, deadlineAt: -1, deadlinePrev: undefined, deadlineNext: undefined };
}

/** Resolves once `n` items have expired, with them in the order they did, each with how long after its add. */
function collect(n: number): {
  deadlines: Deadlines<Item>;
  add: (i: Item, ms: number) => void;
  done: Promise<{ name: string; afterMs: number }[]>;
} {
  const seen: { name: string; afterMs: number }[] = [];
  let resolve: (v: typeof seen) => void = () => {};
  const done = new Promise<typeof seen>((r) => (resolve = r));
  const deadlines = new Deadlines<Item>((i) => {
    seen.push({ name: i.name, afterMs: performance.now() - i.addedAt });
    if (seen.length === n) resolve(seen);
  });
  const add = (i: Item, ms: number) => {
    i.addedAt = performance.now();
    deadlines.add(i, ms);
  };
  return { deadlines, add, done };
}

test('runs expire in deadline order across timeouts, never before their time', async () => {
  const { add, done } = collect(4);
  add(item('a60'), 60);
  add(item('b20'), 20);
  add(item('c60'), 60);
  add(item('d40'), 40);
  const seen = await done;
  assert.deepEqual(
    seen.map((s) => s.name),
    ['b20', 'd40', 'a60', 'c60'],
  );
  for (const s of seen) assert.ok(s.afterMs >= Number(s.name.slice(1)), `${s.name} after ${s.afterMs} ms`);
});

test('a removed run never expires; removing the oldest leaves the next one its own time', async () => {
  const { deadlines, add, done } = collect(2);
  const first = item('first');
  const gone = item('gone');
  add(first, 30);
  add(gone, 30);
  deadlines.remove(first, 30);
  // Twice, and after being removed, is fine.
  deadlines.remove(first, 30);
  const late = item('late');
  await new Promise((r) => setTimeout(r, 10));
  add(late, 30);
  deadlines.remove(gone, 30);
  const last = item('last');
  add(last, 50);
  const seen = await done;
  assert.deepEqual(
    seen.map((s) => s.name),
    ['late', 'last'],
  );
  assert.ok((seen[0]?.afterMs ?? 0) >= 30);
  assert.equal(first.deadlineAt, -1);
});

test('an expired run is out of its lane, and a run added while others expire gets a timer', async () => {
  const seen: string[] = [];
  let deadlines: Deadlines<Item> | undefined;
  const again = item('again');
  const done = new Promise<void>((resolve) => {
    deadlines = new Deadlines<Item>((i) => {
      seen.push(i.name);
      // Removing an expired run is a no-op; adding one from the callback arms the lane again.
      deadlines?.remove(i, 10);
      if (i.name === 'one') deadlines?.add(again, 10);
      if (i.name === 'again') resolve();
    });
  });
  deadlines?.add(item('one'), 10);
  await done;
  assert.deepEqual(seen, ['one', 'again']);
  assert.equal(again.deadlineAt, -1);
});
