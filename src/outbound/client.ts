import { isIP } from 'node:net';
import type { Agent } from 'undici';
import { AddressGuard } from './address-guard.js';

/**
 * The one way taskd makes HTTP requests to the outside (the `http` kind, completion webhooks): through the address
 * guard (the connection's own resolver, so that only checked addresses are connected to), with a connect timeout,
 * no redirects followed (a redirect is the answer, so it cannot lead the request somewhere the guard did not
 * check), and a bounded response body.
 */

export interface OutboundRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Ends the request (a task's deadline or cancel, a delivery's timeout). */
  signal: AbortSignal;
  /** Largest response body read; a larger one rejects with ResponseTooLargeError. */
  maxResponseBytes: number;
  /** Only the status and headers matter: the body is dropped unread (the answer's `body` is empty). */
  discardBody?: boolean;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the response body is larger than ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** A URL outbound requests may go to: http or https, nothing else. */
export class UnsupportedUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedUrlError';
  }
}

/**
 * undici is loaded on the first request, not at start: a process that never sends one (no webhooks, no http
 * tasks) should not pay a fifth of its start-up for it.
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

export class OutboundClient {
  private agent: Promise<Agent> | undefined;

  constructor(
    private readonly guard: AddressGuard,
    private readonly connectTimeoutMs: number,
  ) {}

  private dispatcher(): Promise<Agent> {
    return (this.agent ??= loadUndici().then(
      ({ Agent }) =>
        new Agent({
          connect: { timeout: this.connectTimeoutMs, lookup: this.guard.lookup },
          // Keep-alive connections are reused only for a short while: a host's addresses are checked once per
          // connection, and a connection kept for long would outlive a change of HTTP_ALLOW_HOSTS' meaning (DNS).
          keepAliveTimeout: 4000,
          keepAliveMaxTimeout: 10_000,
        }),
    ));
  }

  async request(target: string, req: OutboundRequest): Promise<OutboundResponse> {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new UnsupportedUrlError('not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UnsupportedUrlError(`only http and https URLs are allowed, got ${url.protocol}`);
    }
    // net.connect never resolves an address literal, so the lookup would not see it: check it here. A name is
    // checked by the lookup, on the addresses the socket then uses.
    if (isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) !== 0) await this.guard.addresses(url.hostname);
    const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.dispatcher()]);
    const res = await request(url, {
      method: req.method as 'GET',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher,
    });
    if (req.discardBody) {
      // Read and dropped (up to a bound, then the connection is closed), so the connection can be reused.
      await res.body.dump({ limit: 65_536 }).catch(() => {});
      return {
        status: res.statusCode,
        headers: res.headers as Record<string, string | string[]>,
        body: Buffer.alloc(0),
      };
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > req.maxResponseBytes) {
      drop(res.body);
      throw new ResponseTooLargeError(req.maxResponseBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > req.maxResponseBytes) {
        drop(res.body);
        throw new ResponseTooLargeError(req.maxResponseBytes);
      }
      chunks.push(chunk);
    }
    return {
      status: res.statusCode,
      headers: res.headers as Record<string, string | string[]>,
      body: Buffer.concat(chunks),
    };
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent) await (await agent).close();
  }
}

/** Ends a response body unread: its stream reports the abort as an error, which is expected here. */
function drop(body: { on(event: 'error', fn: () => void): unknown; destroy(): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * A `Retry-After` header (seconds, or an HTTP date) as milliseconds from `now`; undefined when absent or
 * unreadable. A date in the past is 0.
 */
export function retryAfterMs(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  // An HTTP date names its day and month (Date.parse would also take "-1" for a year).
  if (!/^[A-Za-z]{3},/.test(raw)) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
