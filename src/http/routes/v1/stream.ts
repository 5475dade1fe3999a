import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import type { ChangeFeed, FeedMessage } from '../../../domain/change-feed.js';
import { errorResponses } from '../../schemas.js';
import { SSE_PING_MS } from './events.js';

/**
 * `GET /v1/stream`: Server-Sent Events of every task change, for a dashboard to refresh what it shows when
 * something changed instead of polling. Messages carry what changed, not the tasks: `event: changed` with
 * `{"ids": [...]}` (null: too many, look at everything), `event: created` (new or requeued tasks, a changed
 * queue), and `event: reset` (changes may have been missed: look at everything). Coalesced per
 * FEED_COALESCE_MS and bounded (see ChangeFeed); a comment line every SSE_PING_MS keeps proxies from cutting a
 * quiet stream. A socket that cannot take more (a stalled client) gets no further messages until it drains:
 * the next message after that says `reset`.
 */
export function v1StreamRoutes(app: FastifyInstance, feedOf: () => ChangeFeed): void {
  app.get(
    '/v1/stream',
    {
      schema: {
        summary: 'Every task change, as Server-Sent Events',
        description:
          '`event: changed` `{"ids": [...] | null}`, `event: created` `{}`, `event: reset` `{}` (look at ' +
          'everything again); ends when the instance shuts down. A few per instance at once (429 beyond).',
        tags: ['operations'],
        response: {
          200: { description: 'text/event-stream', type: 'string' },
          ...errorResponses({}),
        },
      },
    },
    async (request, reply) => {
      const feed = feedOf();
      const res = reply.raw;
      let ended = false;
      let stalled = false;
      let end: () => void = () => {};
      const write = (chunk: string) => {
        if (ended) return;
        // Backpressure: nothing is queued for a client that does not read; it is told to reload once it does.
        if (stalled) return;
        if (!res.write(chunk)) {
          stalled = true;
          res.once('drain', () => {
            stalled = false;
            write('event: reset\ndata: {}\n\n');
          });
        }
      };
      const unfollow = feed.follow({
        onMessage: (message: FeedMessage) => {
          const data = message.type === 'changed' ? JSON.stringify({ ids: message.ids }) : '{}';
          write(`event: ${message.type}\ndata: ${data}\n\n`);
        },
        onClose: () => end(),
      });
      if (!unfollow) {
        if (feed.isClosed) throw new ApiError('SHUTTING_DOWN');
        void reply.header('retry-after', '5');
        throw new ApiError('RATE_LIMITED', 'too many live streams on this instance');
      }

      void reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      const ping = setInterval(() => write(': ping\n\n'), SSE_PING_MS);
      end = () => {
        if (ended) return;
        ended = true;
        clearInterval(ping);
        unfollow();
        res.end();
      };
      res.once('close', end);
      // The first message: the stream is open, and whatever the client read before it may be stale.
      write('event: ready\ndata: {}\n\n');
    },
  );
}
