import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describeDbError } from '../db/errors.js';
import { CHANNELS, LISTENER_SQL, type Channel } from '../db/store.js';
import { Backoff, pause } from '../lifecycle/backoff.js';
import type { EventBus } from '../events/bus.js';

export interface NotifierOptions {
  connectionString: string;
  bus: EventBus;
  /** How often the connection proves it still delivers, by notifying itself. */
  selfCheckMs?: number;
}

type Subscriber = (payload: string) => void;

/**
 * One LISTEN connection per process, whatever listens: channels are multiplexed and fanned out in memory (new
 * work for the engine today; finished tasks and cancel requests for waiters and runners next). Present in API-only
 * processes too.
 *
 * A connection can die silently (a half-open socket delivers nothing and reports nothing), so every
 * `selfCheckMs` it notifies itself and expects to hear it back; if not, it is dropped and made anew. Each time it
 * starts listening, `onConnect` subscribers are called: notifications sent before were lost, and they must look.
 */
export class Notifier {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly connectSubscribers = new Set<() => void>();
  private readonly stopped = new AbortController();
  private client: pg.Client | undefined;
  private loop: Promise<void> | undefined;
  private pendingCheck: { token: string; heard: () => void } | undefined;

  constructor(private readonly options: NotifierOptions) {}

  /** Calls `fn` with the payload of every notification on `channel`. Returns the unsubscribe function. */
  subscribe(channel: Channel, fn: Subscriber): () => void {
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Calls `fn` each time the connection starts listening, the first time too: whatever was notified before (or
   * while it was down) was missed, and subscribers must look for themselves.
   */
  onConnect(fn: () => void): () => void {
    this.connectSubscribers.add(fn);
    return () => this.connectSubscribers.delete(fn);
  }

  start(): void {
    if (this.stopped.signal.aborted) return;
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.client?.end().catch(() => {});
    await this.loop;
  }

  private async run(): Promise<void> {
    const { bus } = this.options;
    const backoff = new Backoff(100, 5000);
    let connectedBefore = false;
    const stop = this.stopped.signal;
    while (!stop.aborted) {
      const client = new pg.Client({
        connectionString: this.options.connectionString,
        application_name: 'taskd-listen',
        connectionTimeoutMillis: 3000,
        keepAlive: true,
      });
      const lost = new Promise<unknown>((resolve) => {
        // `on`, not `once`: an unheard second 'error' event would crash the process.
        client.on('error', (err) => resolve(err));
        client.once('end', () => resolve(new Error('the notification connection ended')));
      });
      // Known to stop() before connecting, so that a stop during connect ends this client too.
      this.client = client;
      try {
        await client.connect();
        if (stop.aborted) break;
        client.on('notification', (n) => this.deliver(n.channel, n.payload ?? ''));
        for (const channel of Object.values(CHANNELS)) await client.query(LISTENER_SQL.listen(channel));
        backoff.reset();
        bus.emit('notifier.connected', { reconnect: connectedBefore });
        this.connectSubscribers.forEach((fn) => fn());
        connectedBefore = true;
        const checks = new AbortController();
        const reason = await Promise.race([lost, this.selfCheckUntilFailure(client, checks.signal)]);
        checks.abort();
        if (!stop.aborted) bus.emit('notifier.lost', { err: reason });
      } catch (err) {
        if (!stop.aborted) bus.emit('notifier.lost', { err: describeDbError(err) });
      }
      this.client = undefined;
      this.pendingCheck = undefined;
      await client.end().catch(() => {});
      if (!stop.aborted) await pause(backoff.nextDelay(), stop);
    }
    this.client = undefined;
  }

  /** Resolves (with the reason) when a self-check was not heard back in time; never while all is well. */
  private async selfCheckUntilFailure(client: pg.Client, connectionGone: AbortSignal): Promise<unknown> {
    const every = this.options.selfCheckMs ?? 15_000;
    const stop = AbortSignal.any([this.stopped.signal, connectionGone]);
    for (;;) {
      await pause(every, stop);
      if (stop.aborted) return new Error('stopped');
      const token = randomUUID();
      const failure = await new Promise<unknown>((resolve) => {
        const done = (reason: unknown) => {
          clearTimeout(timer);
          stop.removeEventListener('abort', onStop);
          resolve(reason);
        };
        const onStop = () => done(new Error('stopped'));
        const timer = setTimeout(
          () => done(new Error('the notification connection stopped delivering')),
          Math.min(5000, every),
        );
        stop.addEventListener('abort', onStop, { once: true });
        this.pendingCheck = { token, heard: () => done(undefined) };
        client.query({ text: LISTENER_SQL.selfCheck, values: [token] }).catch(done);
      });
      if (failure) return failure;
      this.pendingCheck = undefined;
    }
  }

  private deliver(channel: string, payload: string): void {
    if (channel === CHANNELS.selfCheck) {
      if (this.pendingCheck?.token === payload) this.pendingCheck.heard();
      return;
    }
    for (const fn of this.subscribers.get(channel) ?? []) {
      try {
        fn(payload);
      } catch {
        // A subscriber's failure is its own; the others still hear.
      }
    }
  }
}
