import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANNELS, type Channel } from '../../src/db/store.js';
import { ChangeFeed, FEED_MAX_IDS, type FeedMessage } from '../../src/domain/change-feed.js';

/** The notifier's two hooks the feed uses, driven by hand: the feed's own logic is what is under test. */
function hub() {
  const subs = new Map<string, ((payload: string) => void)[]>();
  const connects: (() => void)[] = [];
  return {
    notifier: {
      subscribe: (channel: Channel, fn: (payload: string) => void) => {
        subs.set(channel, [...(subs.get(channel) ?? []), fn]);
        return () => {};
      },
      onConnect: (fn: () => void) => {
        connects.push(fn);
        return () => {};
      },
    },
    notify: (channel: Channel, payload: string) => subs.get(channel)?.forEach((fn) => fn(payload)),
    reconnect: () => connects.forEach((fn) => fn()),
  };
}

function follower(feed: ChangeFeed) {
  const messages: FeedMessage[] = [];
  let closed = false;
  let wake: () => void = () => {};
  const unfollow = feed.follow({
    onMessage: (m) => {
      messages.push(m);
      wake();
    },
    onClose: () => (closed = true),
  });
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  return { messages, unfollow, next, isClosed: () => closed };
}

test('changes heard together go out as one message per kind', async () => {
  const h = hub();
  const feed = new ChangeFeed(h.notifier);
  feed.start();
  const f = follower(feed);
  const heard = f.next();
  h.notify(CHANNELS.taskChanged, 'a,b');
  h.notify(CHANNELS.taskChanged, 'b,c');
  h.notify(CHANNELS.taskCreated, '3');
  await heard;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(f.messages, [{ type: 'created' }, { type: 'changed', ids: ['a', 'b', 'c'] }]);
  feed.close();
});

test('a burst of more ids than FEED_MAX_IDS is one "look at everything", not an unbounded list', async () => {
  const h = hub();
  const feed = new ChangeFeed(h.notifier);
  feed.start();
  const f = follower(feed);
  const heard = f.next();
  for (let i = 0; i <= FEED_MAX_IDS; i++) h.notify(CHANNELS.taskChanged, `id-${i}`);
  await heard;
  assert.deepEqual(f.messages, [{ type: 'changed', ids: null }]);
  feed.close();
});

test('a reconnect of the listener says reset; close ends every follower; followers are capped', async () => {
  const h = hub();
  const feed = new ChangeFeed(h.notifier, 2);
  feed.start();
  const a = follower(feed);
  const b = follower(feed);
  assert.equal(b.unfollow !== undefined, true);
  assert.equal(feed.follow({ onMessage: () => {}, onClose: () => {} }), undefined, 'a third is refused');
  const heard = a.next();
  h.reconnect();
  await heard;
  assert.deepEqual(a.messages, [{ type: 'reset' }]);
  feed.close();
  assert.equal(a.isClosed() && b.isClosed(), true);
  assert.equal(feed.follow({ onMessage: () => {}, onClose: () => {} }), undefined, 'closed: refused');
});
