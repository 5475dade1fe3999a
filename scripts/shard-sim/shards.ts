/**
 * The shards of the simulation: K databases on the one PostgreSQL server (each stands in for a primary), each
 * served by one real taskd process (`node dist/main.js`) whose ids carry the shard (TASK_ID_SHARD). Also the
 * script's own reads of those databases: counts, the drain's span, and every task with what the checks need.
 */
import pg from 'pg';
import { ADMIN_URL, adminQuery, urlFor } from '../../bench/lib/pg.js';
import { freePort } from '../../test/helpers/ports.js';
import { ServerProcess } from '../../test/helpers/server.js';

/** Every database of the simulation carries this prefix, the run and K, so that nothing else is touched. */
export const DATABASE_PREFIX = 'taskd_shardsim_';

export interface TaskRow {
  id: string;
  shard: number;
  state: string;
  idempotencyKey: string | null;
  /** Claimed by the worker that the shard's own process registered in this database. */
  ownerIsOwnProcess: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export class Shards {
  private constructor(
    readonly names: string[],
    private readonly servers: ServerProcess[],
    private readonly pools: pg.Pool[],
  ) {}

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  get pids(): number[] {
    return this.servers.map((s) => s.pid);
  }

  /** Creates the databases and starts one process per shard; resolves once every one is ready. */
  static async start(k: number, runId: string): Promise<Shards> {
    const names = Array.from({ length: k }, (_, s) => `${DATABASE_PREFIX}${runId}_k${k}_s${s}`);
    const servers: ServerProcess[] = [];
    const pools: pg.Pool[] = [];
    const shards = new Shards(names, servers, pools);
    try {
      for (const name of names) await adminQuery(`CREATE DATABASE ${name}`);
      for (const [s, name] of names.entries()) {
        const port = await freePort();
        const server = new ServerProcess({
          DATABASE_URL: urlFor(name),
          PORT: String(port),
          TASK_ID_SHARD: String(s),
          // Warnings only: a log line per task would spend the shared cores on logging.
          LOG_LEVEL: 'warn',
          DB_POOL_SIZE: '10',
          WORKER_CONCURRENCY: '200',
          LEASE_MS: '15000',
          RATE_LIMIT_MAX: '0',
        });
        server.url = `http://127.0.0.1:${port}`;
        servers.push(server);
        const pool = new pg.Pool({
          connectionString: urlFor(name),
          max: 2,
          application_name: 'taskd-shard-sim',
        });
        pool.on('error', () => {});
        pools.push(pool);
      }
      await Promise.all(
        servers.map((server) =>
          until(
            `shard ${server.url} to be ready`,
            60_000,
            async () => (await fetch(`${server.url}/readyz`)).ok,
          ),
        ),
      );
      return shards;
    } catch (err) {
      await shards.stop();
      throw err;
    }
  }

  /** Pauses or resumes the default queue of every shard at once (a setting of each database, set on each). */
  async setPaused(paused: boolean): Promise<void> {
    await Promise.all(
      this.urls.map(async (url) => {
        const res = await fetch(`${url}/v1/queues/default`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ paused }),
        });
        if (!res.ok) throw new Error(`PATCH /v1/queues/default on ${url}: ${res.status} ${await res.text()}`);
      }),
    );
  }

  /** Tasks in all shards together. */
  async rowCount(): Promise<number> {
    const counts = await Promise.all(
      this.pools.map(async (p) =>
        Number((await p.query<{ n: string }>('SELECT count(*) AS n FROM taskd.tasks')).rows[0]!.n),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Resolves once no shard has a task queued or running. */
  async drained(limitMs: number): Promise<void> {
    await until('the shards to drain', limitMs, async () => {
      const left = await Promise.all(
        this.pools.map(async (p) => {
          const { rows } = await p.query<{ n: string }>(
            `SELECT count(*) AS n FROM taskd.tasks WHERE state IN ('queued', 'running')`,
          );
          return Number(rows[0]!.n);
        }),
      );
      return left.every((n) => n === 0);
    });
  }

  /**
   * Seconds from the first start to the last finish, over all shards and per shard. The databases share one
   * server, hence one clock, so the spans of different shards compare.
   */
  async drainSpan(): Promise<{ seconds: number; perShard: number[] }> {
    const spans = await Promise.all(
      this.pools.map(async (p) => {
        const { rows } = await p.query<{ first: number; last: number }>(
          `SELECT extract(epoch FROM min(started_at))::float8 AS first, extract(epoch FROM max(finished_at))::float8 AS last
             FROM taskd.tasks`,
        );
        return rows[0]!;
      }),
    );
    const first = Math.min(...spans.map((s) => s.first));
    const last = Math.max(...spans.map((s) => s.last));
    return { seconds: last - first, perShard: spans.map((s) => s.last - s.first) };
  }

  /** Every task of every shard, with the shard whose database holds it. */
  async rows(): Promise<TaskRow[]> {
    const perShard = await Promise.all(
      this.pools.map(async (p, shard) => {
        const { rows } = await p.query<{ id: string; state: string; key: string | null; own: boolean }>(
          `SELECT id::text, state::text, idempotency_key AS key,
                  coalesce(owner IN (SELECT id FROM taskd.workers WHERE pid = $1), false) AS own
             FROM taskd.tasks`,
          [this.pids[shard]],
        );
        return rows.map((r) => ({
          id: r.id,
          shard,
          state: r.state,
          idempotencyKey: r.key,
          ownerIsOwnProcess: r.own,
        }));
      }),
    );
    return perShard.flat();
  }

  /** Server processes of PostgreSQL serving the simulation's databases now. */
  async backendPids(): Promise<number[]> {
    const rows = await adminQuery<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)`,
      [this.names],
    );
    return rows.map((r) => r.pid);
  }

  /**
   * Samples, ten times a second until the returned function is called, what the active backends of the
   * simulation's databases wait for; resolves with the share of samples per wait (`CPU`: waiting for nothing).
   */
  sampleWaits(): () => Promise<Record<string, number>> {
    const counts = new Map<string, number>();
    let total = 0;
    let sampling = true;
    // One connection for all samples: a new one per sample would cost the server more than the sampling.
    const client = new pg.Client({ connectionString: ADMIN_URL, application_name: 'taskd-shard-sim-waits' });
    const loop = (async () => {
      await client.connect();
      try {
        while (sampling) {
          const { rows } = await client.query<{ wait: string | null }>(
            `SELECT wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
              WHERE datname = ANY($1) AND state = 'active' AND pid <> pg_backend_pid()`,
            [this.names],
          );
          for (const r of rows) {
            const wait = r.wait ?? 'CPU';
            counts.set(wait, (counts.get(wait) ?? 0) + 1);
            total++;
          }
          await sleep(100);
        }
      } finally {
        await client.end();
      }
    })();
    return async () => {
      sampling = false;
      await loop.catch(() => {});
      const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4);
      return Object.fromEntries(top.map(([w, n]) => [w, Math.round((n / Math.max(1, total)) * 1000) / 10]));
    };
  }

  /** Stops the processes (gracefully, then for sure), closes the script's pools and drops the databases. */
  async stop(): Promise<void> {
    for (const server of this.servers) server.kill('SIGTERM');
    await Promise.all(
      this.servers.map(async (server) => {
        const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
        await server.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.pools.map((p) => p.end()));
    for (const name of this.names) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}
