import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Fresh databases on the benchmark's PostgreSQL, each dropped again when the run ends. */

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const created = new Set<string>();

export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL, application_name: 'taskd-bench-admin' });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a unique name and returns its URL. */
export async function createDatabase(label: string): Promise<{ name: string; url: string }> {
  const name = `taskd_bench_${label}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  created.add(name);
  return { name, url: urlFor(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  created.delete(name);
}

export async function dropAllCreated(): Promise<void> {
  for (const name of [...created]) await dropDatabase(name).catch(() => {});
}

/** Transactions committed in one database so far (read from another database, so reading costs it nothing). */
export async function xactCommit(database: string): Promise<number> {
  const rows = await adminQuery<{ n: string }>(
    `SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  return Number(rows[0]?.n ?? 'NaN');
}

/** A pool for the bench's own reads of a database (kept small so it barely competes with the subject). */
export function smallPool(url: string, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'taskd-bench' });
  // An idle connection closed by the server must not crash the run; the next query opens a new one.
  pool.on('error', () => {});
  return pool;
}
