import { setTimeout as sleep } from 'node:timers/promises';

export interface LoadOptions {
  /** Where to send creates: called per request, one of the returned base URLs is picked at random. */
  targets: () => string[];
  ratePerSecond: number;
  maxInFlight: number;
  /** Stop after this many creates were sent. */
  total?: number;
  /** Each request gives up after this long (its outcome is then "timeout"). */
  timeoutMs?: number;
}

export interface Answer {
  /** HTTP status, or the error code of a request that got no answer (ECONNREFUSED, ECONNRESET, timeout…). */
  outcome: string;
  /** performance.now() when it was sent and how long it took. */
  sentAt: number;
  /** Date.now() when it was sent, to compare with the `time` of server log lines. */
  sentAtEpoch: number;
  ms: number;
  target: string;
  taskId?: string;
}

/**
 * Sends POST /task/create at a steady rate, the way many independent clients would, and records every answer.
 * The pacing loop is bounded by `total` or by `stop()`.
 */
export class CreateLoad {
  readonly answers: Answer[] = [];
  /** Non-2xx answers whose body is not JSON with a string `error`. */
  readonly badBodies: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private sent = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stops sending and waits for the answers of requests already sent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  /** Resolves when `total` creates were sent and answered (or the load was stopped). */
  async finished(): Promise<void> {
    await this.loop;
    await Promise.all(this.inFlight);
  }

  get accepted(): string[] {
    return this.answers.flatMap((a) => (a.outcome === '201' && a.taskId ? [a.taskId] : []));
  }

  /** How many answers had each outcome. */
  outcomes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.answers) out[a.outcome] = (out[a.outcome] ?? 0) + 1;
    return out;
  }

  count5xx(): number {
    return this.answers.filter((a) => /^5\d\d$/.test(a.outcome) && a.outcome !== '503').length;
  }

  private async run(): Promise<void> {
    const { ratePerSecond, maxInFlight, total } = this.options;
    const t0 = performance.now();
    while (!this.stopped && (total === undefined || this.sent < total)) {
      const due = Math.floor(((performance.now() - t0) / 1000) * ratePerSecond);
      while (
        this.sent < due &&
        this.inFlight.size < maxInFlight &&
        (total === undefined || this.sent < total)
      ) {
        const targets = this.options.targets();
        if (targets.length === 0) break;
        const target = targets[Math.floor(Math.random() * targets.length)]!;
        const p = this.send(target, this.sent++).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      await sleep(5);
    }
  }

  private async send(target: string, i: number): Promise<void> {
    const sentAt = performance.now();
    const answer: Answer = { outcome: '', sentAt, sentAtEpoch: Date.now(), ms: 0, target };
    try {
      const res = await fetch(`${target}/task/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: `load task ${i}` }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      answer.outcome = String(res.status);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (res.status === 201) {
        answer.taskId = String((body as { task_id?: unknown } | undefined)?.task_id);
      } else if (typeof (body as { error?: unknown } | undefined)?.error !== 'string') {
        this.badBodies.push(`${res.status} ${text.slice(0, 200)}`);
      }
    } catch (err) {
      answer.outcome = errorCode(err);
    }
    answer.ms = performance.now() - sentAt;
    this.answers.push(answer);
  }
}

/** The most specific code of a failed fetch: ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, TimeoutError… */
export function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
    e = e.cause;
  }
  return err instanceof Error ? err.name : 'error';
}
