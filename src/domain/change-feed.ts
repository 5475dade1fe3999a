import { CHANNELS } from '../db/store.js';
import type { Notifier } from '../notify/notifier.js';

/** What a follower of every task hears: coalesced, so that a burst of changes is one message. */
export type FeedMessage =
  /** These tasks changed (state, attempt, progress); `ids` null: too many to list, look at everything. */
  | { type: 'changed'; ids: string[] | null }
  /** Tasks were created (or queued again, or a queue was changed): lists and counts are out of date. */
  | { type: 'created' }
  /** Notifications may have been missed (the listener reconnected): look at everything again. */
  | { type: 'reset' };

export interface FeedFollower {
  onMessage(message: FeedMessage): void;
  /** The process is shutting down: end the stream. Nothing is heard after it. */
  onClose(): void;
}

/** Most ids one message lists; a follower that fell further behind is told to look at everything. */
export const FEED_MAX_IDS = 500;
/** Changes heard within this long of each other go out as one message. */
export const FEED_COALESCE_MS = 250;

/** One follower's pending changes, bounded whatever the rate of changes. */
class Pending {
  ids = new Set<string>();
  overflow = false;
  created = false;
  reset = false;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Every task change of the whole service, for followers that watch everything at once (the dashboard's live
 * updates): fed by the same notifications as the waiters (`taskd_task_changed`, `taskd_task_created`), never by
 * reading the database. Each follower's pending changes are coalesced for FEED_COALESCE_MS and bounded to
 * FEED_MAX_IDS ids, so that neither a slow follower nor a burst of work grows memory. At most `maxFollowers`
 * follow at once in a process.
 */
export class ChangeFeed {
  private readonly followers = new Map<FeedFollower, Pending>();
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly notifier: Pick<Notifier, 'subscribe' | 'onConnect'>,
    readonly maxFollowers = 100,
  ) {}

  start(): void {
    if (this.closed || this.unsubscribe.length > 0) return;
    this.unsubscribe.push(
      this.notifier.subscribe(CHANNELS.taskChanged, (payload) => this.each((p) => this.addIds(p, payload))),
      this.notifier.subscribe(CHANNELS.taskCreated, () => this.each((p) => (p.created = true))),
      this.notifier.onConnect(() => this.each((p) => (p.reset = true))),
    );
  }

  get size(): number {
    return this.followers.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Follows every change; undefined when `maxFollowers` already follow (or the feed is closed). */
  follow(follower: FeedFollower): (() => void) | undefined {
    if (this.closed || this.followers.size >= this.maxFollowers) return undefined;
    this.followers.set(follower, new Pending());
    return () => {
      const pending = this.followers.get(follower);
      clearTimeout(pending?.timer);
      this.followers.delete(follower);
    };
  }

  /** Tells every follower to end; later follows are refused. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe.splice(0).forEach((off) => off());
    const all = [...this.followers.entries()];
    this.followers.clear();
    for (const [follower, pending] of all) {
      clearTimeout(pending.timer);
      follower.onClose();
    }
  }

  private addIds(pending: Pending, payload: string): void {
    if (pending.overflow) return;
    for (const id of payload.split(',')) {
      if (!id) continue;
      pending.ids.add(id);
      if (pending.ids.size > FEED_MAX_IDS) {
        pending.overflow = true;
        pending.ids.clear();
        return;
      }
    }
  }

  private each(change: (pending: Pending) => void): void {
    for (const [follower, pending] of this.followers) {
      change(pending);
      pending.timer ??= setTimeout(() => this.deliver(follower, pending), FEED_COALESCE_MS);
    }
  }

  private deliver(follower: FeedFollower, pending: Pending): void {
    pending.timer = undefined;
    if (this.followers.get(follower) !== pending) return;
    const messages: FeedMessage[] = [];
    if (pending.reset) messages.push({ type: 'reset' });
    else {
      if (pending.created) messages.push({ type: 'created' });
      if (pending.overflow || pending.ids.size > 0) {
        messages.push({ type: 'changed', ids: pending.overflow ? null : [...pending.ids] });
      }
    }
    pending.ids.clear();
    pending.overflow = pending.created = pending.reset = false;
    for (const message of messages) {
      try {
        follower.onMessage(message);
      } catch {
        // One follower's failure is its own; the others still hear.
      }
    }
  }
}
