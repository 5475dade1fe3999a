import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { statementText, TaskStore, type StatementName } from '../../src/db/store.js';
import { newTaskId } from '../../src/domain/task-id.js';
import { EventBus } from '../../src/events/bus.js';
import { createLogger } from '../../src/logger.js';
import { ensurePartitions } from '../../src/maintenance/partitions.js';
import { createTestDatabase } from '../helpers/db.js';
import { newV1Task } from '../helpers/engine.js';

/**
 * The claims must read the queued tasks through tasks_claimable in claim order and stop after the ones they take,
 * however large the backlog: a plan that reads every queued row and sorts them costs a claim time in proportion
 * to the backlog. The data is what trips a planner up: few queues and one kind, so that filters on them look
 * selective when they are not. With statistics and without them: a backlog inserted since the last ANALYZE (or
 * into a table never analyzed) is guessed small, and the plans of a prepared statement's first runs see the
 * claim's LIMIT.
 */

const log = createLogger('silent');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const QUEUED = 6000;
const LIMIT = 100;

/** The statements that claim queued tasks, the parameter types they are prepared with, and values for them. */
const claims = (owner: string): [StatementName, string, unknown[]][] => [
  ['taskClaimAvailable', 'uuid, int, text[]', [owner, LIMIT, []]],
  ['taskClaimFromQueue', 'uuid, int, text, text[]', [owner, LIMIT, 'other', []]],
  ['taskLeaseAvailable', 'text[], int, int, text', [['noop'], LIMIT, 60_000, 'worker-1']],
  ['taskLeaseFromQueue', 'text[], int, int, text, text', [['noop'], LIMIT, 60_000, 'worker-1', 'other']],
];

async function checkClaimPlans(analyze: boolean): Promise<void> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'taskd-test' }, log);
  cleanups.push(async () => {
    await pool.end();
    await db.drop();
  });
  await migrate(pool, log);
  const store = new TaskStore(pool);
  await ensurePartitions(store, { stepMs: 86_400_000 }, new EventBus());
  if (!analyze) {
    // No autovacuum may ANALYZE the partitions behind the test's back.
    const { rows } = await pool.query<{ name: string }>('SELECT name FROM taskd.task_partitions()');
    for (const { name } of rows)
      await pool.query(`ALTER TABLE taskd.${name} SET (autovacuum_enabled = false)`);
  }
  const owner = randomUUID();
  await store.workerRegister(owner, 'test', process.pid, 60_000, 1000);
  for (let i = 0; i < QUEUED; i += 1000) {
    await store.taskInsertManyV1(
      Array.from({ length: 1000 }, (_, j) =>
        newV1Task('noop', {
          id: newTaskId(),
          queue: (i + j) % 2 === 0 ? 'default' : 'other',
          priority: (i + j) % 3,
        }),
      ),
    );
  }
  if (analyze) await pool.query('ANALYZE taskd.tasks');

  const client = await pool.connect();
  /** Plan nodes on a partition of taskd.tasks that ran, with the rows they returned. */
  const taskScans = async (
    name: StatementName,
    types: string,
    values: unknown[],
    mode: 'custom' | 'generic',
  ) => {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL plan_cache_mode = force_${mode}_plan`);
      await client.query(`PREPARE claim_plan (${types}) AS ${statementText(name)}`);
      // EXECUTE takes no bound parameters: the values go in as literals.
      const literals = values
        .map((v) => client.escapeLiteral(Array.isArray(v) ? `{${v.join(',')}}` : String(v)))
        .join(', ');
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim_plan(${literals})`,
      );
      const nodes: PlanNode[] = [];
      const walk = (n: PlanNode) => {
        nodes.push(n);
        n.Plans?.forEach(walk);
      };
      walk(rows[0]!['QUERY PLAN'][0].Plan);
      return nodes;
    } finally {
      await client.query('ROLLBACK');
      await client.query('DEALLOCATE ALL');
    }
  };
  try {
    for (const mode of ['custom', 'generic'] as const) {
      for (const [name, types, values] of claims(owner)) {
        const nodes = await taskScans(name, types, values, mode);
        const what = `${name}, ${mode} plan, ${analyze ? 'analyzed' : 'never analyzed'}`;
        const read = nodes.filter(
          (n) => n['Relation Name']?.startsWith('tasks_') && (n['Actual Loops'] ?? 0) > 0,
        );
        assert.ok(
          read.every((n) => n['Node Type'] !== 'Seq Scan'),
          `${what}: reads a partition whole (${read.map((n) => n['Node Type']).join(', ')})`,
        );
        assert.ok(
          nodes.every((n) => n['Node Type'] !== 'Sort'),
          `${what}: sorts the queued tasks instead of reading them in order`,
        );
        // The queued tasks the claim read: what it took, not the backlog.
        const claimable = read.filter((n) => n['Node Type'] === 'Index Scan' && n['Actual Rows']! > 0);
        const rowsRead = claimable.reduce((s, n) => s + n['Actual Rows']! * n['Actual Loops']!, 0);
        assert.ok(rowsRead <= 3 * LIMIT, `${what}: read ${rowsRead} rows for a claim of ${LIMIT}`);
      }
    }
  } finally {
    client.release();
  }
}

describe('the claim plan', () => {
  test('a claim reads the queue in claim order and no more than it takes, as a custom and as a generic plan', async () => {
    await checkClaimPlans(true);
  });

  test('so it does on a backlog that has no statistics yet', async () => {
    await checkClaimPlans(false);
  });
});
