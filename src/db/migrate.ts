import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { Logger } from '../logger.js';

/** Plain numbered SQL files, applied in order, each once, each in its own transaction. */
export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

/** Any constant works; it only has to be the same for every taskd process. */
const MIGRATION_LOCK_KEY = 0x7461736b64; // "taskd"

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => ({
      version: Number(name.slice(0, 4)),
      name,
      sql: await readFile(new URL(name, dir), 'utf8'),
    })),
  );
}

/**
 * Brings the schema up to date. Several processes may start at once: a session-level advisory lock makes
 * them take turns, and each one re-reads what is applied after it gets the lock.
 */
export async function migrate(pool: pg.Pool, log: Logger): Promise<number[]> {
  const migrations = await loadMigrations();
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS taskd');
      await client.query(`CREATE TABLE IF NOT EXISTS taskd.migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM taskd.migrations');
      const done = new Set(rows.map((r) => r.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          // A migration may rebuild an index on a large table: no statement timeout for it.
          await client.query('SET LOCAL statement_timeout = 0');
          await client.query(m.sql);
          await client.query('INSERT INTO taskd.migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push(m.version);
        log.info({ version: m.version, migration: m.name }, 'migration applied');
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return applied;
}
