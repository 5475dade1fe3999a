import pg from 'pg';
import { TASK_CREATED_CHANNEL } from '../db/store.js';
import { describeDbError } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { Backoff, pause } from './backoff.js';

/**
 * Keeps one connection LISTENing for new tasks and calls `onWake` for each notification. If the connection
 * drops it reconnects with backoff and wakes once (notifications sent meanwhile are lost; the engine's poll
 * covers the gap too).
 */
export class Wakeup {
  private client: pg.Client | undefined;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly onWake: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.client?.end().catch(() => {});
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(100, 5000);
    let connectedBefore = false;
    while (!this.stopped.signal.aborted) {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: 'taskd-listen',
        connectionTimeoutMillis: 3000,
        keepAlive: true,
      });
      const lost = new Promise<void>((resolve) => {
        // `on`, not `once`: an unheard second 'error' event would crash the process.
        client.on('error', (err) => {
          this.log.warn({ err: describeDbError(err) }, 'notification connection lost');
          resolve();
        });
        client.once('end', () => resolve());
      });
      // Known to stop() before connecting, so that a stop during connect ends this client too.
      this.client = client;
      try {
        await client.connect();
        if (this.stopped.signal.aborted) {
          await client.end().catch(() => {});
          break;
        }
        client.on('notification', () => this.onWake());
        await client.query(`LISTEN ${TASK_CREATED_CHANNEL}`);
        backoff.reset();
        if (connectedBefore) this.log.info('notification connection restored');
        connectedBefore = true;
        this.onWake();
        await lost;
      } catch (err) {
        if (!this.stopped.signal.aborted) {
          this.log.debug({ err: describeDbError(err) }, 'notification connection failed');
        }
      }
      this.client = undefined;
      await client.end().catch(() => {});
      if (!this.stopped.signal.aborted) await pause(backoff.nextDelay(), this.stopped.signal);
    }
    this.client = undefined;
  }
}
