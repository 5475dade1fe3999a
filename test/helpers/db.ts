import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the suite runs against (see scripts/test.ts). */
export function adminUrl(): string {
  const url = process.env.TASKD_TEST_ADMIN_URL;
  if (!url) throw new Error('TASKD_TEST_ADMIN_URL is not set: run the tests with `npm test`');
  return url;
}

export interface TestDatabase {
  url: string;
  name: string;
  /** A small pool for the test's own queries against this database. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh, empty database of the test's own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `taskd_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on('error', () => {});
  return {
    url: url.toString(),
    name,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function taskStates(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ state: string; n: number }>(
    'SELECT state::text, count(*)::int AS n FROM taskd.tasks GROUP BY state',
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** True when no task is queued or running any more. */
export async function allFinished(pool: pg.Pool): Promise<boolean> {
  const states = await taskStates(pool);
  return !states.queued && !states.running;
}
