/**
 * `npm test` (and `npm run test:faults`): builds the service if its sources changed (scripts/build-if-stale.mjs,
 * as `npm start` does), finds a PostgreSQL server for the tests, runs node's test runner over the suite, and
 * cleans up.
 *
 * The server: TASKD_TEST_DATABASE_URL if set; else the machine's PostgreSQL on 127.0.0.1:5432 if it answers;
 * else an embedded PostgreSQL started here in .tmp/ and stopped at the end. Each test file creates its own
 * databases on that server, so files can run side by side.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { createLogger } from '../src/logger.js';
import { freePort } from '../test/helpers/ports.js';

const suite = process.argv[2] ?? 'main';
const dirs = suite === 'faults' ? ['test/faults'] : ['test/unit', 'test/integration', 'test/e2e'];

function findTests(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return findTests(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function main(): Promise<number> {
  const build = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { stdio: 'inherit' });
  if (build.status !== 0) return build.status ?? 1;

  // TASKD_TEST_DATABASE_URL=embedded forces the embedded server, to check the suite on a machine without one.
  const wanted = process.env.TASKD_TEST_DATABASE_URL;
  let adminUrl = wanted === 'embedded' ? undefined : wanted;
  let embedded: EmbeddedPostgres | undefined;
  if (!adminUrl) {
    const local = 'postgres://postgres@127.0.0.1:5432/postgres';
    if (wanted !== 'embedded' && (await reachable(local))) {
      adminUrl = local;
    } else {
      console.log('starting an embedded PostgreSQL for the tests');
      embedded = await startEmbeddedPostgres({
        dataDir: path.resolve('.tmp/test-pg'),
        port: await freePort(),
        log: createLogger('warn'),
      });
      adminUrl = embedded.url;
    }
  }
  console.log(`tests use PostgreSQL at ${adminUrl}`);

  const files = dirs.flatMap(findTests).sort();
  if (files.length === 0) {
    console.error(`no test files under ${dirs.join(', ')}`);
    return 1;
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-reporter=spec', ...files],
    { stdio: 'inherit', env: { ...process.env, TASKD_TEST_ADMIN_URL: adminUrl } },
  );
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  await embedded?.stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
