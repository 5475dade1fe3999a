import { Batcher } from '../db/batcher.js';
import { Deadlines, type Timed } from '../engine/deadlines.js';
import type { ClaimedDelivery, DeliveryAttempt, TaskStore } from '../db/store.js';
import { CHANNELS } from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { presentTaskV1 } from '../http/presenters.js';
import { jitter } from '../lifecycle/backoff.js';
import type { Notifier } from '../notify/notifier.js';
import { findAddressRefusal } from '../outbound/address-guard.js';
import { UnsupportedUrlError, type OutboundClient } from '../outbound/client.js';
import type { WebhookSigner } from '../outbound/signing.js';

/**
 * Delivers completion webhooks from the outbox (taskd.webhook_deliveries). Every process runs one (not only the
 * maintenance leader): claims are `FOR UPDATE SKIP LOCKED` and committed before the request goes out, so processes
 * share the work without coordinating, a slow receiver holds no transaction open, and no failover wait delays a
 * delivery when one process dies — its claimed rows simply come due again once their hold has passed.
 *
 * Woken by the outbox's own notification (at the commit of the terminal state) and whenever an attempt ends with
 * more rows possibly due; a poll every POLL_MS finds retries whose time has come, and anything a lost
 * notification left behind.
 */

const POLL_MS = 1000;

/**
 * Attempts recorded by one statement at most, and such statements at once. The ends of attempts are written
 * together (group commit, see Batcher): alone at low load, many per statement under load, so that the outbox's
 * writes do not grow one transaction per delivery.
 */
const RECORD_BATCH = 500;
const RECORDS_AT_ONCE = 2;

export interface DelivererOptions {
  store: TaskStore;
  client: OutboundClient;
  signer: WebhookSigner;
  notifier: Notifier;
  bus: EventBus;
  /** Deliveries in flight at once in this process. */
  concurrency: number;
  /** Longest attempt, connect to last byte. */
  timeoutMs: number;
  /** Attempts before a delivery is marked failed. */
  maxAttempts: number;
  /** The n-th retry waits between half and all of min(maxMs, baseMs · 2^(n-1)). */
  backoff: { baseMs: number; maxMs: number };
}

/** The wait before retry `n` (1-based): exponential, capped, with "equal" jitter (never less than half). */
export function webhookRetryDelay(
  n: number,
  backoff: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, n - 1));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}

/** Attempts whose end is still being written, at most, as a multiple of the concurrency (see `room`). */
const RECORDING_PER_SLOT = 4;

/**
 * One attempt's request, aborted when its time is up or the deliverer stops: one controller and a place in a
 * shared lane of deadlines, rather than, for every request, a timeout signal with a timer of its own and a signal
 * combining it with the stop's (which showed in the deliverer's CPU profile).
 */
class OutgoingRequest implements Timed {
  readonly controller = new AbortController();
  timedOut = false;
  deadlineAt = -1;
  deadlinePrev: Timed | undefined = undefined;
  deadlineNext: Timed | undefined = undefined;
}

/** Every attempt's deadline, on one timer per distinct timeout. */
const deadlines = new Deadlines<OutgoingRequest>((request) => {
  request.timedOut = true;
  request.controller.abort();
});

export class WebhookDeliverer {
  /** Requests out (the slots); an attempt leaves this set when its answer (or failure) is in. */
  private readonly sending = new Set<Promise<void>>();
  /** Attempts whose end is being recorded: no longer holding a slot, still awaited by stop(). */
  private readonly recording = new Set<Promise<void>>();
  /** The requests of `sending`, to abort at stop. */
  private readonly requests = new Set<OutgoingRequest>();
  /** Claimed and waiting for a slot, oldest first: at most one per slot (see `room`). */
  private readonly ready: ClaimedDelivery[] = [];
  /** The last claim got as many as it asked for: more may be due. */
  private mayHaveMore = false;
  private readonly stopped = new AbortController();
  private claiming: Promise<void> | undefined;
  private wakeAgain = false;
  /** A claim was put off until more slots are free. */
  private deferred = false;
  private poll: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void)[] = [];
  private started = false;
  private readonly recorder: Batcher<DeliveryAttempt, boolean>;

  constructor(private readonly o: DelivererOptions) {
    // Recorded even during shutdown (a short deadline of its own): an attempt left unrecorded would only come due
    // again after its hold.
    this.recorder = new Batcher(
      (attempts) => this.o.store.webhookRecordAttempts(attempts, { deadlineMs: 5000 }),
      { maxBatch: RECORD_BATCH, maxConcurrent: RECORDS_AT_ONCE },
    );
  }

  /** How long a claim holds a row: the attempt's longest time twice over, so that only a dead deliverer loses it. */
  private get holdMs(): number {
    return 2 * this.o.timeoutMs + 1000;
  }

  start(): void {
    if (this.started || this.stopped.signal.aborted || this.o.concurrency <= 0) return;
    this.started = true;
    this.unsubscribe.push(
      this.o.notifier.subscribe(CHANNELS.webhookDue, () => this.wake()),
      // Notifications sent while the listener was away are lost: look for ourselves.
      this.o.notifier.onConnect(() => this.wake()),
    );
    const schedule = () => {
      this.poll = setTimeout(() => {
        this.wake();
        schedule();
      }, jitter(POLL_MS));
    };
    schedule();
    this.wake();
  }

  /**
   * Stops claiming; attempts in flight are aborted and recorded as interrupted, and claimed deliveries that never
   * went out are given back: all due again at once, for this process's successor or another one.
   */
  async stop(): Promise<void> {
    this.stopped.abort();
    for (const request of this.requests) request.controller.abort();
    clearTimeout(this.poll);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.claiming;
    const unsent = this.ready.splice(0).map(({ id, attempt }) => ({ id, attempt }));
    await this.o.store
      .webhookReleaseClaims(unsent, { deadlineMs: 5000 })
      .catch((err: unknown) => this.o.bus.emit('webhook.store_failed', { err }));
    await Promise.all([...this.sending]);
    await Promise.all([...this.recording]);
  }

  /** Claims due deliveries into free slots; a wake during a claim runs one more claim after it. */
  wake(): void {
    if (this.stopped.signal.aborted || !this.started) return;
    if (this.claiming) {
      this.wakeAgain = true;
      return;
    }
    this.claiming = this.claimDue()
      .catch((err: unknown) => {
        if (!this.stopped.signal.aborted) this.o.bus.emit('webhook.store_failed', { err });
      })
      .finally(() => {
        this.claiming = undefined;
        if (this.wakeAgain) {
          this.wakeAgain = false;
          this.wake();
        }
      });
  }

  /**
   * How many more deliveries a claim may take: enough for the free slots and one more waiting per slot, so that
   * a slot that frees starts its next request at once rather than after a claim's round trip. One per slot at
   * most, because of the hold: every request out ends within the timeout, freeing its slot for the oldest waiting
   * delivery, so a waiting delivery goes out within one timeout of its claim and its hold (twice the timeout and a
   * second) still covers its own attempt. A slot is free once its request has its answer (the attempt's end is
   * written with others', grouped); what is being recorded is bounded too, so that a slow database slows the
   * claims down instead of piling up answers in memory.
   */
  private room(): number {
    const c = this.o.concurrency;
    const claimed = this.sending.size + this.ready.length;
    return Math.min(2 * c - claimed, RECORDING_PER_SLOT * c - claimed - this.recording.size);
  }

  private async claimDue(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      const room = this.room();
      // While deliveries are out or waiting, claims take at least a quarter of the slots' worth rather than one
      // by one: a claim is a statement, and at high rates claims of one would be most of the deliverer's
      // statements. A slot that frees later wakes the deliverer again (`deferred`).
      const busy = this.sending.size + this.ready.length > 0;
      this.deferred = room > 0 && busy && room < Math.ceil(this.o.concurrency / 4);
      if (room <= 0 || this.deferred) return;
      const claimed = await this.o.store.webhookClaimDue(room, this.holdMs, {
        signal: this.stopped.signal,
      });
      this.mayHaveMore = claimed.length === room;
      // Claimed during a stop: kept here all the same, so that stop() gives them back.
      this.ready.push(...claimed);
      this.launchReady();
      if (!this.mayHaveMore) return;
    }
  }

  /** Sends waiting deliveries, oldest first, while slots are free. */
  private launchReady(): void {
    while (!this.stopped.signal.aborted && this.sending.size < this.o.concurrency) {
      const next = this.ready.shift();
      if (!next) return;
      this.launch(next);
    }
  }

  private launch(delivery: ClaimedDelivery): void {
    const storeFailed = (err: unknown) => this.o.bus.emit('webhook.store_failed', { err });
    // A freed slot takes the next waiting delivery at once; the room it leaves, or room under the bound on
    // recording, may let a claim go on.
    const freed = () => {
      this.launchReady();
      if (this.mayHaveMore || this.deferred) this.wake();
    };
    const sent: Promise<void> = this.send(delivery)
      .then((attempt) => {
        const recorded: Promise<void> = this.report(delivery, attempt)
          .catch(storeFailed)
          .finally(() => {
            this.recording.delete(recorded);
            freed();
          });
        this.recording.add(recorded);
      }, storeFailed)
      .finally(() => {
        this.sending.delete(sent);
        freed();
      });
    this.sending.add(sent);
  }

  /** Makes the attempt's request; what it came to, ready to record. Never rejects for the receiver's sake. */
  private async send(d: ClaimedDelivery): Promise<DeliveryAttempt> {
    const startedAt = new Date();
    // The body is rebuilt from the frozen payload the same way every time, so every attempt sends the same bytes.
    const body = JSON.stringify({
      type: d.payload.type,
      timestamp: d.payload.timestamp,
      data: presentTaskV1(d.payload.data),
    });
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'taskd-webhooks',
      ...this.o.signer.headers(d.id, body, startedAt),
    };
    const request = new OutgoingRequest();
    this.requests.add(request);
    deadlines.add(request, this.o.timeoutMs);
    let responseStatus: number | null = null;
    let error: string | null = null;
    let final = false;
    try {
      const res = await this.o.client.request(d.url, {
        method: 'POST',
        headers,
        body,
        signal: request.controller.signal,
        maxResponseBytes: 0,
        discardBody: true,
      });
      responseStatus = res.status;
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      const refusal = findAddressRefusal(err);
      if (refusal || err instanceof UnsupportedUrlError) {
        // Retrying will not change what the configuration refuses.
        error = (refusal ?? (err as Error)).message;
        final = true;
      } else if (this.stopped.signal.aborted) {
        error = 'interrupted: the service shut down during the attempt';
      } else if (request.timedOut) {
        error = `timed out after ${this.o.timeoutMs} ms (WEBHOOK_TIMEOUT_MS)`;
      } else {
        error = `request failed: ${describe(err)}`;
      }
    } finally {
      deadlines.remove(request, this.o.timeoutMs);
      this.requests.delete(request);
    }

    const interrupted = this.stopped.signal.aborted && error !== null && !final;
    const outOfAttempts = d.attempt >= this.o.maxAttempts && !interrupted;
    const status: DeliveryAttempt['status'] =
      error === null ? 'delivered' : final || outOfAttempts ? 'failed' : 'pending';
    const retryInMs =
      status !== 'pending' ? 0 : interrupted ? 0 : webhookRetryDelay(d.attempt, this.o.backoff);
    return { id: d.id, attempt: d.attempt, status, responseStatus, error, retryInMs, startedAt };
  }

  /** Records the attempt's end (grouped with others') and then tells the bus what it came to. */
  private async report(d: ClaimedDelivery, a: DeliveryAttempt): Promise<void> {
    const written = await this.recorder.add(a);
    if (!written) return; // claimed again meanwhile (this attempt outlived its hold): the newer attempt reports
    if (a.status === 'delivered') {
      this.o.bus.emit('webhook.delivered', {
        webhookId: d.id,
        taskId: d.task_id,
        attempt: d.attempt,
        responseStatus: a.responseStatus!,
      });
      return;
    }
    this.o.bus.emit('webhook.attempt_failed', {
      webhookId: d.id,
      taskId: d.task_id,
      attempt: d.attempt,
      responseStatus: a.responseStatus ?? undefined,
      error: a.error!,
      retryInMs: a.status === 'pending' ? a.retryInMs : undefined,
    });
    if (a.status === 'failed') {
      this.o.bus.emit('webhook.failed', {
        webhookId: d.id,
        taskId: d.task_id,
        attempts: d.attempt,
        error: a.error!,
      });
    }
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code =
    typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
