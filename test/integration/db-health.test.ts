import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { parseExposition, valueOf } from '../helpers/prometheus.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

interface Check {
  name: string;
  subject: string | null;
  value: number | null;
  threshold: number;
  status: 'ok' | 'warn';
  holder?: Record<string, unknown> | null;
}
interface Report {
  status: 'ok' | 'warn';
  checks: Check[];
  xmin_horizon: { holders: Record<string, unknown>[] };
  replicas: unknown;
}

const HOLDER = 'taskd-health-test-holder';

test('database health: dead tuples and a transaction holding xmin are warned about once, naming the holder', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({
    DATABASE_URL: db.url,
    // No engine: nothing but the test touches the tasks.
    WORKER_CONCURRENCY: '0',
    METRICS_SAMPLE_INTERVAL_MS: '200',
    HEALTH_DEAD_TUPLES_WARN: '500',
    HEALTH_XMIN_HORIZON_WARN_S: '1',
  });
  const holder = new pg.Client({ connectionString: db.url, application_name: HOLDER });
  try {
    const health = async () => {
      const res = await fetch(`${s.url}/v1/health`);
      assert.equal(res.status, 200);
      return (await res.json()) as Report;
    };
    const check = (r: Report, name: string, subject: string | null = null) =>
      r.checks.find((c) => c.name === name && c.subject === subject)!;

    const first = await health();
    assert.equal(check(first, 'dead_tuples', 'taskd.tasks').status, 'ok');
    assert.equal(check(first, 'xmin_horizon_age').status, 'ok');
    assert.equal(first.replicas, null, 'no replica: null');

    // Dead tuples that autovacuum is kept from removing: 2,000 rows inserted and deleted.
    // (Set on the partition that these rows go to: ids without a time, as the original API's used to be.)
    await db.pool.query('ALTER TABLE taskd.tasks_legacy SET (autovacuum_enabled = false)');
    await db.pool.query(
      `INSERT INTO taskd.tasks (id, handler, input, timeout_ms)
       SELECT gen_random_uuid(), 'noop', 'x', 1000 FROM generate_series(1, 2000)`,
    );
    await db.pool.query('DELETE FROM taskd.tasks');
    const dead = await waitFor('dead tuples to be over the threshold', async () => {
      const c = check(await health(), 'dead_tuples', 'taskd.tasks');
      return c.status === 'warn' && c;
    });
    assert.ok(dead.value! >= 2000);
    await s.waitForEvent('health.warn', (l) => l.check === 'dead_tuples' && l.subject === 'taskd.tasks');

    // A transaction that took an xid and stays open holds the horizon back.
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT txid_current()');
    const warned = await s.waitForEvent(
      'health.warn',
      (l) =>
        l.check === 'xmin_horizon_age' &&
        (l.holder as { application_name?: string })?.application_name === HOLDER,
    );
    const named = warned.holder as Record<string, unknown>;
    assert.equal(named.state, 'idle in transaction');
    assert.equal(typeof named.pid, 'number');
    assert.ok(!('query' in named), 'never the text of a query');

    const report = await health();
    assert.equal(report.status, 'warn');
    const horizon = check(report, 'xmin_horizon_age');
    assert.equal(horizon.status, 'warn');
    assert.ok(horizon.value! > 1);
    assert.equal(horizon.holder?.application_name, HOLDER);
    assert.ok(report.xmin_horizon.holders.some((h) => h.application_name === HOLDER));
    assert.ok(!JSON.stringify(report).includes('txid_current'), 'no query text anywhere');

    // Several more samples later, still one warning for this crossing.
    const samples = async () =>
      valueOf(
        parseExposition(await (await fetch(`${s.url}/metrics`)).text()),
        'taskd_db_health_samples_total',
      );
    const seen = await samples();
    await waitFor('three more health samples', async () => (await samples()) >= seen + 3);
    const scrape = parseExposition(await (await fetch(`${s.url}/metrics`)).text());
    assert.ok(valueOf(scrape, 'taskd_db_xmin_horizon_age_seconds') > 1);
    assert.ok(valueOf(scrape, 'taskd_db_dead_tuples', { table: 'taskd.tasks' }) >= 2000);
    assert.equal(valueOf(scrape, 'taskd_db_health_warn', { check: 'xmin_horizon_age' }), 1);
    const warnings = s.logs.filter((l) => l.event === 'health.warn' && l.check === 'xmin_horizon_age');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));

    // Ended: the check recovers, once.
    await holder.query('COMMIT');
    await s.waitForEvent('health.recovered', (l) => l.check === 'xmin_horizon_age');
    assert.equal(check(await health(), 'xmin_horizon_age').status, 'ok');
  } finally {
    await holder.end().catch(() => {});
    await s.close();
  }
});
