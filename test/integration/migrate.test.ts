import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const log = createLogger('silent');
let db: TestDatabase | undefined;
after(async () => db?.drop());

test('twenty migrators at once: every migration applied exactly once, all succeed', async () => {
  db = await createTestDatabase();
  const pools = Array.from({ length: 20 }, () =>
    createPool({ connectionString: db!.url, max: 1, applicationName: 'taskd-migrate-test' }, log),
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
