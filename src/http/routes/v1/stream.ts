import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import type { ChangeFeed, FeedMessage } from '../../../domain/change-feed.js';
import { errorResponses } from '../../schemas.js';
import { openEventStream } from '../../event-stream.js';

/**
 * `GET /v1/stream`: Server-Sent Events of every task change, for a dashboard to refresh what it shows when
 * something changed instead of polling. Messages carry what changed, not the tasks: `event: changed` with
 * `{"ids": [...]}` (null: too many, look at everything), `event: created` (new or requeued tasks, a changed
 * queue), and `event: reset` (changes may have been missed: look at everything). Coalesced per
 * FEED_COALESCE_MS and bounded (see ChangeFeed); a comment line every SSE_PING_MS (event-stream.ts) keeps
 * proxies from cutting a quiet stream. A socket that cannot take more (a stalled client) gets no further messages
 * until it drains: the next message after that says `reset`.
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
      // Until the stream is open there is nothing to write to, and nothing to end.
      let write: (chunk: string) => void = () => {};
      let end: () => void = () => {};
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

      const stream = openEventStream(request, reply, unfollow);
      end = stream.end;
      let stalled = false;
      write = (chunk) => {
        // Backpressure: nothing is queued for a client that does not read; it is told to reload once it does.
        if (stalled || stream.write(chunk) || stream.ended) return;
        stalled = true;
        reply.raw.once('drain', () => {
          stalled = false;
          write('event: reset\ndata: {}\n\n');
        });
      };
      // The first message: the stream is open, and whatever the client read before it may be stale.
      write('event: ready\ndata: {}\n\n');
    },
  );
}
