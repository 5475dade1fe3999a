import type { FastifyReply, FastifyRequest } from 'fastify';

/** A comment line this often keeps proxies and load balancers from cutting a quiet stream. */
export const SSE_PING_MS = 15_000;

/** A Server-Sent Events answer once its headers are out: what the routes write, and how it ends. */
export interface EventStream {
  /** Writes `chunk` unless the stream has ended; false when the socket's buffer is full, or after the end. */
  write: (chunk: string) => boolean;
  /** Ends the stream, once: stops the pings, calls the `onEnd` given at the open, ends the response. */
  end: () => void;
  readonly ended: boolean;
}

/**
 * Takes the answer over from Fastify (`reply.hijack()`) and sends the headers of an event stream: from here on
 * the route writes its messages itself, and nothing may throw into Fastify. The stream ends when the client goes
 * (the socket closes) or when the route calls `end()`.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  onEnd: () => void,
): EventStream {
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Tells nginx not to buffer the stream.
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
  let ended = false;
  const stream: EventStream = {
    write: (chunk) => !ended && res.write(chunk),
    end: () => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      onEnd();
      res.end();
    },
    get ended() {
      return ended;
    },
  };
  const ping = setInterval(() => stream.write(': ping\n\n'), SSE_PING_MS);
  res.once('close', stream.end);
  return stream;
}
