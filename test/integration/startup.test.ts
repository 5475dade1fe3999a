import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess } from '../helpers/server.js';

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

test('a signal while start-up waits for the database shuts down cleanly, exit 0', async () => {
  // Nothing listens there: start-up keeps retrying its first connection (for up to a minute).
  const port = await freePort();
  const s = new ServerProcess({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/taskd` });
  try {
    await s.waitForLog((l) => l.msg === 'database not reachable yet; retrying');
    s.kill('SIGTERM');
    const exit = await s.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(s.logs.some((l) => l.msg === 'start-up interrupted; everything it acquired is released'));
  } finally {
    await s.close();
  }
});

test('a pool larger than the database accepts stops the start with one clear line', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const { rows } = await db.pool.query<{ max: number }>(
    "SELECT current_setting('max_connections')::int AS max",
  );
  const tooMany = rows[0]!.max + 10;
  const s = new ServerProcess({ DATABASE_URL: db.url, DB_POOL_SIZE: String(tooMany) });
  try {
    const exit = await s.exited;
    assert.equal(exit.code, 1);
    const line = s.stderr.find((l) => l.includes('DB_POOL_SIZE'));
    assert.ok(line, `stderr: ${s.stderr.join('\n')}`);
    assert.match(
      line,
      new RegExp(
        `^taskd: DB_POOL_SIZE=${tooMany} needs ${tooMany + 2} connections, but the database accepts at most \\d+`,
      ),
    );
    assert.ok(!s.logs.some((l) => l.event === 'http.listening'), 'it never listened');
  } finally {
    await s.close();
  }
});
