/**
 * A local HTTP receiver for the webhook benchmark, in a process of its own so that verifying does not load the
 * bench or the service: `tsx bench/lib/receiver.ts`, with RECEIVER_SECRET (the service's WEBHOOK_SECRET). It
 * answers every POST with 204 once it has read the body, verifies its Standard Webhooks signature, and counts
 * per path. It sends `{"port"}` on its IPC channel when listening, and its counts in answer to any message.
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceiverCounts {
  /** Per path: requests, signatures that verified, that did not, and webhook-ids seen before. */
  paths: Record<string, { received: number; verified: number; bad: number; repeated: number }>;
  /** Receive time (ms since the epoch, this machine's clock) of the first and the last request. */
  firstAt: number;
  lastAt: number;
}

const secret = process.env.RECEIVER_SECRET;
if (!secret || !process.send) throw new Error('run with RECEIVER_SECRET and an IPC channel');
const webhook = new Webhook(secret);
const counts: ReceiverCounts = { paths: {}, firstAt: Number.NaN, lastAt: Number.NaN };
const seen = new Set<string>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = performance.timeOrigin + performance.now();
    if (!(counts.firstAt <= now)) counts.firstAt = now;
    counts.lastAt = now;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const c = (counts.paths[path] ??= { received: 0, verified: 0, bad: 0, repeated: 0 });
    c.received++;
    const headers: Record<string, string> = {};
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    try {
      webhook.verify(Buffer.concat(chunks), headers);
      c.verified++;
    } catch {
      c.bad++;
    }
    const id = headers['webhook-id'];
    if (id !== undefined) {
      if (seen.has(id)) c.repeated++;
      else seen.add(id);
    }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send!({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('message', () => process.send!({ counts }));
process.on('disconnect', () => process.exit(0));
