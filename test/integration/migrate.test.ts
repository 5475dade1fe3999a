import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  loadMigrations,
  migrate,
  MigrationChangedError,
  MigrationFailedError,
} from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

/** A migrations directory of the test's own, so that the mechanism is tried without a real migration. */
async function migrationsDir(files: Record<string, string>): Promise<URL> {
  const dir = await mkdtemp(path.join(tmpdir(), 'taskd-migrations-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const url = pathToFileURL(dir + path.sep);
  for (const [name, sql] of Object.entries(files)) await writeFile(new URL(name, url), sql);
  return url;
}

function logLines(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

async function backendPid(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

const ITEMS = 'CREATE TABLE taskd.items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x integer);\n';

test('twenty migrators at once: every migration applied exactly once, all succeed', async () => {
  const db = await database();
  const pools = Array.from({ length: 20 }, () =>
    createPool({ connectionString: db.url, max: 1, applicationName: 'taskd-migrate-test' }, log),
  );
  try {
    const applied = await Promise.all(pools.map((p) => migrate(p, log)));
    const migrations = await loadMigrations();
    assert.deepEqual(applied.flat().sort(), migrations.map((m) => m.version).sort());
    const { rows } = await db.pool.query<{ version: number }>(
      'SELECT version FROM taskd.migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      migrations.map((m) => m.version),
    );
    // Running again changes nothing.
    assert.deepEqual(await migrate(pools[0]!, log), []);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('migration files are numbered 0001, 0002, ... without gaps', async () => {
  const versions = (await loadMigrations()).map((m) => m.version);
  assert.deepEqual(
    versions,
    versions.map((_, i) => i + 1),
  );
});

test('a no-transaction migration builds an index concurrently: writers and a waiting migrator go on', async () => {
  const db = await database();
  const dir = await migrationsDir({ '0001_items.sql': ITEMS });
  assert.deepEqual(await migrate(db.pool, log, dir), [1]);

  // A writer's transaction stays open while the index is built: CONCURRENTLY waits for it to end, where a
  // plain CREATE INDEX would also queue every later writer behind itself.
  const writer = await db.pool.connect();
  const inserter = await db.pool.connect();
  const second = new pg.Pool({ connectionString: db.url, max: 1, application_name: 'taskd-second-migrator' });
  try {
    await writer.query('BEGIN');
    await writer.query('INSERT INTO taskd.items (x) VALUES (1)');
    const writerPid = await backendPid(writer);

    await writeFile(
      new URL('0002_items_x.sql', dir),
      [
        '-- taskd:no-transaction',
        '-- A build that crashed leaves an INVALID index behind: drop it first, so that a rerun rebuilds it.',
        'DROP INDEX CONCURRENTLY IF EXISTS taskd.items_x;',
        'CREATE INDEX CONCURRENTLY items_x',
        '  ON taskd.items (x);',
        '',
      ].join('\n'),
    );
    const first = migrate(db.pool, log, dir);
    await Promise.race([
      first.then(() => assert.fail('the migration finished while a writer was still open')),
      waitFor('the index build to wait for the open transaction', async () => {
        const { rowCount } = await db.pool.query(
          'SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))',
          [writerPid],
        );
        return rowCount;
      }),
    ]);

    // Another writer, while the build is under way: it either commits or is seen waiting for a lock.
    const inserterPid = await backendPid(inserter);
    let inserted = false;
    const insert = inserter.query('INSERT INTO taskd.items (x) VALUES (2)').then(() => {
      inserted = true;
    });
    const outcome = await waitFor('the insert to commit or to wait for a lock', async () => {
      if (inserted) return 'committed';
      const { rowCount } = await db.pool.query(
        'SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND cardinality(pg_blocking_pids(pid)) > 0',
        [inserterPid],
      );
      return rowCount ? 'blocked' : false;
    });
    assert.equal(outcome, 'committed', 'a writer was blocked by the index build');

    // A migrator that starts now waits for its turn without deadlocking with the build, which waits for every
    // older transaction of the database.
    const later = migrate(second, log, dir);
    await Promise.race([
      later.then(() => assert.fail('the second migrator did not wait for the first')),
      waitFor('the second migrator to ask for the lock', async () => {
        const { rowCount } = await db.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'taskd-second-migrator' AND query LIKE '%advisory_lock%'",
        );
        return rowCount;
      }),
    ]);

    await writer.query('COMMIT');
    assert.deepEqual(await first, [2]);
    assert.deepEqual(await later, []);
    await insert;
    const { rows } = await db.pool.query<{ indisvalid: boolean; indisready: boolean }>(
      "SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'taskd.items_x'::regclass",
    );
    assert.deepEqual(rows, [{ indisvalid: true, indisready: true }]);
  } finally {
    await writer.query('ROLLBACK').catch(() => {});
    writer.release();
    inserter.release();
    await second.end();
  }
});

test('a no-transaction migration cannot use dollar quoting', async () => {
  const dir = await migrationsDir({
    '0001_fn.sql': '-- taskd:no-transaction\nDO $$ BEGIN PERFORM 1; END $$;\n',
  });
  await assert.rejects(
    loadMigrations(dir),
    /0001_fn\.sql: a no-transaction migration cannot use dollar quoting/,
  );
});

test('an applied migration whose file changed stops the start with an error naming it', async () => {
  const db = await database();
  const dir = await migrationsDir({ '0001_items.sql': ITEMS });
  assert.deepEqual(await migrate(db.pool, log, dir), [1]);

  await writeFile(new URL('0001_items.sql', dir), ITEMS.replace('x integer', 'x bigint'));
  await writeFile(new URL('0002_more.sql', dir), 'CREATE TABLE taskd.more (id integer);\n');
  await assert.rejects(migrate(db.pool, log, dir), (err: unknown) => {
    assert.ok(err instanceof MigrationChangedError);
    assert.match(err.message, /^migration 0001_items\.sql changed after it was applied/);
    return true;
  });
  // Nothing after it was applied.
  const { rows } = await db.pool.query<{ version: number }>('SELECT version FROM taskd.migrations');
  assert.deepEqual(
    rows.map((r) => r.version),
    [1],
  );
});

test('a migration applied before checksums were recorded gets its checksum, which is then enforced', async () => {
  const db = await database();
  const dir = await migrationsDir({ '0001_items.sql': ITEMS });
  assert.deepEqual(await migrate(db.pool, log, dir), [1]);
  // The bookkeeping table as earlier versions of taskd created it.
  await db.pool.query('ALTER TABLE taskd.migrations DROP COLUMN checksum');

  assert.deepEqual(await migrate(db.pool, log, dir), []);
  const { rows } = await db.pool.query<{ checksum: string }>(
    'SELECT checksum FROM taskd.migrations WHERE version = 1',
  );
  assert.deepEqual(rows, [{ checksum: createHash('sha256').update(ITEMS).digest('hex') }]);

  await writeFile(new URL('0001_items.sql', dir), `-- edited\n${ITEMS}`);
  await assert.rejects(migrate(db.pool, log, dir), MigrationChangedError);
});

test('migrations newer than the code (a newer version applied them) are logged, not an error', async () => {
  const db = await database();
  const dir = await migrationsDir({ '0001_items.sql': ITEMS });
  assert.deepEqual(await migrate(db.pool, log, dir), [1]);
  await db.pool.query(
    "INSERT INTO taskd.migrations (version, name, checksum) VALUES (2, '0002_newer.sql', 'abc')",
  );

  const { log: captured, lines } = logLines();
  assert.deepEqual(await migrate(db.pool, captured, dir), []);
  const line = lines.find((l) => /does not know/.test(String(l.msg)));
  assert.deepEqual(line?.migrations, ['0002_newer.sql']);
});

test('a failed migration reports its own error, even when the rollback fails too', async () => {
  const db = await database();
  // The migration kills its own connection: the ROLLBACK and the unlock after it cannot succeed.
  const dir = await migrationsDir({
    '0001_items.sql': ITEMS,
    '0002_broken.sql': 'SELECT pg_terminate_backend(pg_backend_pid());\n',
  });
  await assert.rejects(migrate(db.pool, log, dir), (err: unknown) => {
    assert.ok(err instanceof MigrationFailedError);
    assert.match(err.message, /^migration 0002_broken\.sql failed: terminating connection/);
    assert.equal(err.migration, '0002_broken.sql');
    assert.equal((err.cause as { code?: string }).code, '57P01'); // terminated by an administrator
    return true;
  });
  // The transaction was rolled back and the lock died with the connection: a fixed file applies.
  const { rows } = await db.pool.query<{ version: number }>('SELECT version FROM taskd.migrations');
  assert.deepEqual(
    rows.map((r) => r.version),
    [1],
  );
  await writeFile(new URL('0002_broken.sql', dir), 'SELECT 1;\n');
  assert.deepEqual(await migrate(db.pool, log, dir), [2]);
});
