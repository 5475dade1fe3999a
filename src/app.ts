import net, { type AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool, describeDbError, isTransientDbError } from './db/pool.js';
import { TaskStore } from './db/store.js';
import { TaskService } from './domain/task-service.js';
import { Backoff, pause } from './engine/backoff.js';
import { Engine } from './engine/engine.js';
import { Retention } from './engine/retention.js';
import { builtInHandlers } from './handlers/index.js';
import { buildServer } from './http/server.js';
import type { Logger } from './logger.js';

/** How long a closing listener waits for requests on connections it has just accepted. */
const LISTENER_LINGER_MS = 250;

export interface App {
  /** Graceful: refuse creates, stop claiming, let tasks finish within the grace period, release everything. */
  stop(): Promise<void>;
  /** Fast: fail running tasks at once (best effort) and release everything. */
  forceStop(): Promise<void>;
}

/** Connects, retrying while the database is still starting (containers start together). */
async function connectAndMigrate(pool: pg.Pool, log: Logger, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  const backoff = new Backoff(200, 2000);
  for (;;) {
    try {
      await migrate(pool, log);
      return;
    } catch (err) {
      if (!isTransientDbError(err) || Date.now() > giveUpAt) throw err;
      log.warn({ err: describeDbError(err) }, 'database not reachable yet; retrying');
      await pause(backoff.nextDelay());
    }
  }
}

/**
 * The composition root: acquires database, store, engine and HTTP in that order, and releases them in
 * reverse. Everything long-running is started and stopped here, nowhere else.
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const releases: { name: string; release: () => Promise<void> }[] = [];
  const releaseAll = async () => {
    for (const { name, release } of releases.splice(0).reverse()) {
      try {
        await release();
      } catch (err) {
        log.error({ err, resource: name }, 'release failed');
      }
    }
  };

  try {
    let embedded: EmbeddedPostgres | undefined;
    if (!config.DATABASE_URL) {
      embedded = await startEmbeddedPostgres({
        dataDir: config.DATA_DIR,
        port: config.EMBEDDED_PG_PORT,
        log,
      });
      releases.push({ name: 'embedded PostgreSQL', release: () => embedded!.stop() });
    }
    const databaseUrl = config.DATABASE_URL ?? embedded!.url;

    const pool = createPool(
      { connectionString: databaseUrl, max: config.DB_POOL_SIZE, applicationName: 'taskd' },
      log,
    );
    releases.push({
      name: 'database pool',
      release: async () => {
        await pool.end();
        log.info('database connections closed');
      },
    });
    await connectAndMigrate(pool, log, 60_000);
    log.info({ database: redact(databaseUrl) }, 'database connected');

    const store = new TaskStore(pool);
    const handlers = builtInHandlers(config);
    const service = new TaskService(store, {
      defaultHandler: config.DEFAULT_HANDLER,
      defaultTimeoutMs: config.TASK_TIMEOUT_MS,
      maxTaskLength: config.MAX_TASK_LENGTH,
    });

    const retention = new Retention(store, config.RETENTION_DAYS * 86_400_000, log);
    if (config.RETENTION_DAYS > 0) {
      retention.start();
      releases.push({ name: 'retention', release: () => retention.stop() });
    }

    // The listener starts before the engine so that the engine is stopped first on the way out.
    const server = await buildServer({
      service,
      store,
      log,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      apiTokens: config.API_TOKENS,
      rateLimit:
        config.RATE_LIMIT_MAX > 0
          ? { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS }
          : undefined,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      trustProxy: config.TRUST_PROXY,
    });
    await server.listen({ port: config.PORT, host: config.HOST });
    const address = server.server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    log.info({ url, port: address.port }, 'listening');
    releases.push({
      name: 'http server',
      release: async () => {
        // Refuse new connections first, and give requests already on their way a moment to arrive: closing
        // idle connections at once would cut a request whose connection was accepted an instant before.
        // (net.Server's close, not http.Server's: the latter also closes idle connections right away.)
        net.Server.prototype.close.call(server.server);
        await pause(LISTENER_LINGER_MS);
        await server.close();
        log.info('http server closed');
      },
    });

    let engine: Engine | undefined;
    if (config.WORKER_CONCURRENCY > 0) {
      const e = new Engine({
        store,
        handlers,
        log,
        concurrency: config.WORKER_CONCURRENCY,
        leaseMs: config.LEASE_MS,
        pollIntervalMs: config.POLL_INTERVAL_MS,
        listenUrl: databaseUrl,
      });
      await e.start();
      engine = e;
      releases.push({ name: 'engine', release: () => e.stop(config.SHUTDOWN_GRACE_MS) });
    } else {
      log.info('WORKER_CONCURRENCY=0: serving the API only, claiming no tasks');
    }

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        log.info('shutdown: refusing new tasks');
        // New creates get 503 (and /readyz too) from here on; those already accepted still commit. Claiming
        // stops at once: the engine's stop runs alongside, and is the first release below.
        await Promise.all([service.stopAccepting(), engine?.stop(config.SHUTDOWN_GRACE_MS)]);
        // Reverse order of acquisition: engine (reads keep being served while tasks finish), listener,
        // maintenance, pool, embedded database.
        await releaseAll();
        log.info('shutdown complete');
      })());

    return {
      stop,
      async forceStop() {
        log.warn('forced shutdown: failing running tasks now');
        engine?.endGracePeriod();
        await stop();
      },
    };
  } catch (err) {
    await releaseAll();
    throw err;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
