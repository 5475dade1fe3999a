import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a Receiver got, as it arrived. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived (Date.now()). */
  at: number;
}

/**
 * What to answer one request with: a status, headers and body, `hang` to never answer, or `hold` to answer 200 only
 * when the test calls release().
 */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'hold';

/**
 * A real HTTP server on 127.0.0.1 that stands for the targets of outbound requests: it keeps every request, and
 * answers each with the next reply queued for its path (200 `{"ok": true}` when none is). Tests wait for requests
 * as events, never on a timer.
 */
export class Receiver {
  readonly requests: Received[] = [];
  private readonly replies = new Map<string, Reply[]>();
  private readonly events = new EventEmitter();
  private readonly hanging = new Set<ServerResponse>();
  private readonly held = new Map<string, ServerResponse[]>();
  private server: Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(received);
        const reply = this.replies.get(received.path)?.shift() ?? {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: '{"ok":true}',
        };
        if (reply === 'hang') this.hanging.add(res);
        else if (reply === 'hold')
          this.held.set(received.path, [...(this.held.get(received.path) ?? []), res]);
        else res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
        this.events.emit('request', received);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Queues replies for the next requests to `path`, in order. */
  reply(path: string, ...replies: Reply[]): void {
    this.replies.set(path, [...(this.replies.get(path) ?? []), ...replies]);
  }

  /** Answers the requests to `path` held so far (`hold`) with 200. */
  release(path: string): void {
    for (const res of this.held.get(path)?.splice(0) ?? []) res.writeHead(200).end();
  }

  to(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Resolves once `path` has had `n` requests. */
  waitFor(path: string, n: number, timeoutMs = 30_000): Promise<Received[]> {
    if (this.to(path).length >= n) return Promise.resolve(this.to(path));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('request', check);
        reject(new Error(`${path} got ${this.to(path).length} of ${n} requests within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (this.to(path).length < n) return;
        clearTimeout(timer);
        this.events.off('request', check);
        resolve(this.to(path));
      };
      this.events.on('request', check);
    });
  }

  async close(): Promise<void> {
    for (const res of [...this.hanging, ...[...this.held.values()].flat()]) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
