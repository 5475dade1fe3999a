import { InvalidConfigError, loadConfig } from '../config.js';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { createLogger } from '../logger.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database) and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_PG_PORT, log });
  const pool = createPool(
    { connectionString: config.DATABASE_URL ?? embedded!.url, max: 2, applicationName: 'taskd-migrate' },
    log,
  );
  try {
    const applied = await migrate(pool, log);
    log.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date');
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(
    `taskd migrate: ${err instanceof InvalidConfigError ? err.problems.join('; ') : String(err)}`,
  );
  process.exit(1);
});
