import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ReceiverCounts } from './lib/receiver.js';
import { createDatabase, dropDatabase, smallPool } from './lib/pg.js';
import { migrateDatabase } from './lib/schema.js';
import { ROOT, Service } from './lib/service.js';
import { log, waitFor } from './lib/util.js';

/**
 * 9. Webhooks and the `http` kind, signed (WEBHOOK_SECRET), against a local receiver in a process of its own
 * (bench/lib/receiver.ts) that verifies every signature with the Standard Webhooks library and counts.
 *
 * Webhooks: `tasks` queued noop tasks with a callback_url, drained by one process, which delivers each task's
 * completion from the outbox. Rate = deliveries ÷ (last delivered_at − first finished_at), both the database's
 * timestamps (one clock). The `http` kind: `tasks` queued tasks of kind `http` that POST to the receiver; rate =
 * tasks ÷ (last finished_at − first started_at).
 */

export interface WebhookResult {
  tasks: number;
  concurrency: number;
  deliveriesPerSecond: number;
  /** From the first task finished to the last delivery recorded. */
  seconds: number;
  /** The same rate as the receiver saw it (its first to its last request), for comparison. */
  receiverPerSecond: number;
  delivered: number;
  verified: number;
  badSignatures: number;
  repeated: number;
  httpTasks: number;
  httpTasksPerSecond: number;
  httpVerified: number;
  httpCompleted: number;
}

const TSX = `${ROOT}node_modules/.bin/tsx`;
const RECEIVER = `${ROOT}bench/lib/receiver.ts`;

class Receiver {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {}

  static async start(secret: string): Promise<Receiver> {
    const proc = spawn(TSX, [RECEIVER], {
      cwd: ROOT,
      env: { ...process.env, RECEIVER_SECRET: secret },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the receiver did not listen within 30 s')), 30_000);
      proc.once('message', (m: { port: number }) => {
        clearTimeout(timer);
        resolve(m.port);
      });
      proc.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
    });
    return new Receiver(proc, port);
  }

  counts(): Promise<ReceiverCounts> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the receiver did not answer within 10 s')), 10_000);
      this.proc.once('message', (m: { counts: ReceiverCounts }) => {
        clearTimeout(timer);
        resolve(m.counts);
      });
      this.proc.send('counts');
    });
  }

  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

export async function webhookWorkload(
  tasks: number,
  httpTasks: number,
  concurrency = 16,
): Promise<WebhookResult> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver = await Receiver.start(secret);
  const db = await createDatabase('webhooks');
  await migrateDatabase(db.url);
  const pool = smallPool(db.url);
  const service = await Service.start({
    databaseUrl: db.url,
    env: {
      DEFAULT_HANDLER: 'noop',
      WEBHOOK_SECRET: secret,
      WEBHOOK_CONCURRENCY: String(concurrency),
      HTTP_ALLOW_HOSTS: '127.0.0.1',
    },
  });
  const base = `http://127.0.0.1:${receiver.port}`;
  try {
    // Webhooks: the tasks are queued in one statement (the process's poll finds them), each with a callback_url.
    await pool.query(
      `INSERT INTO taskd.tasks (id, handler, payload, timeout_ms, callback_url)
       SELECT gen_random_uuid(), 'noop', jsonb_build_object('n', g), 240000, $1 FROM generate_series(1, $2) g`,
      [`${base}/hook`, tasks],
    );
    await waitFor(
      'every webhook delivered',
      async () => {
        const { rows } = await pool.query<{ left: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM taskd.tasks WHERE state IN ('queued', 'running'))
               OR EXISTS (SELECT 1 FROM taskd.webhook_deliveries WHERE status = 'pending') AS left`,
        );
        return rows[0]?.left ? undefined : true;
      },
      300_000,
      100,
    );
    const hooks = (await receiver.counts()).paths['/hook'];
    const { rows } = await pool.query<{ s: number; delivered: number }>(
      `SELECT extract(epoch FROM (SELECT max(delivered_at) FROM taskd.webhook_deliveries)
                                - (SELECT min(finished_at) FROM taskd.tasks))::float8 AS s,
              (SELECT count(*)::int FROM taskd.webhook_deliveries WHERE status = 'delivered') AS delivered`,
    );
    const seconds = rows[0]?.s ?? Number.NaN;
    const delivered = rows[0]?.delivered ?? 0;
    const counts = await receiver.counts();
    log(`webhooks: ${delivered} delivered in ${seconds.toFixed(2)} s; receiver ${JSON.stringify(hooks)}`);

    // The http kind: v1 tasks of kind `http`, queued the same way, each one a signed POST to the receiver.
    await pool.query('TRUNCATE taskd.tasks CASCADE');
    await pool.query(
      `INSERT INTO taskd.tasks (id, handler, payload, timeout_ms, max_attempts)
       SELECT gen_random_uuid(), 'http',
              jsonb_build_object('url', $1::text, 'method', 'POST', 'body', jsonb_build_object('n', g)), 240000, 1
       FROM generate_series(1, $2) g`,
      [`${base}/call`, httpTasks],
    );
    await waitFor(
      'every http task finished',
      async () => {
        const { rows: r } = await pool.query<{ left: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM taskd.tasks WHERE state IN ('queued', 'running', 'scheduled')) AS left`,
        );
        return r[0]?.left ? undefined : true;
      },
      300_000,
      100,
    );
    const { rows: h } = await pool.query<{ s: number; completed: number }>(
      `SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 AS s,
              count(*) FILTER (WHERE state = 'completed')::int AS completed FROM taskd.tasks`,
    );
    const calls = (await receiver.counts()).paths['/call'];
    log(
      `http kind: ${h[0]?.completed} completed in ${h[0]?.s.toFixed(2)} s; receiver ${JSON.stringify(calls)}`,
    );
    return {
      tasks,
      concurrency,
      deliveriesPerSecond: delivered / seconds,
      seconds,
      receiverPerSecond: ((hooks?.received ?? 0) / (counts.lastAt - counts.firstAt)) * 1000,
      delivered,
      verified: hooks?.verified ?? 0,
      badSignatures: hooks?.bad ?? 0,
      repeated: hooks?.repeated ?? 0,
      httpTasks,
      httpTasksPerSecond: (h[0]?.completed ?? 0) / (h[0]?.s ?? Number.NaN),
      httpVerified: calls?.verified ?? 0,
      httpCompleted: h[0]?.completed ?? 0,
    };
  } finally {
    await service.stop();
    receiver.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}
