import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { describeDbError } from './errors.js';

/** Plain numbered SQL files, applied in order, each once (see "Migrations" in CONTRIBUTING.md). */
export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

/**
 * The first line of a migration that must run outside a transaction block (`CREATE INDEX CONCURRENTLY`, so
 * that an index is built without blocking writers). Its statements run one by one, each committed on its own.
 */
export const NO_TRANSACTION_DIRECTIVE = '-- taskd:no-transaction';

/** Any constant works; it only has to be the same for every taskd process. */
const MIGRATION_LOCK_KEY = 0x7461736b64; // "taskd"

/** How often a process waiting for another one's migrations tries the lock again (doubling up to the max). */
const LOCK_RETRY_MIN_MS = 50;
const LOCK_RETRY_MAX_MS = 1000;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** sha256 of the file: recorded when it is applied, and compared on every start. */
  checksum: string;
  /** False when the file starts with NO_TRANSACTION_DIRECTIVE. */
  transaction: boolean;
}

/** An applied migration's file is no longer the one that was applied. Never retried: the code must be fixed. */
export class MigrationChangedError extends Error {
  constructor(readonly migrations: string[]) {
    const [what, was] = migrations.length === 1 ? ['migration', 'it was'] : ['migrations', 'they were'];
    super(
      `${what} ${migrations.join(', ')} changed after ${was} applied (the sha256 recorded in taskd.migrations ` +
        'differs): a released migration is never edited; restore the file and put the change in a new one',
    );
    this.name = 'MigrationChangedError';
  }
}

/** A migration failed. `cause` is the database's error; `code` is its SQLSTATE (or socket code). */
export class MigrationFailedError extends Error {
  /**
   * Copied from the cause so that whoever classifies database errors by code (a retry at start-up) treats a
   * migration that failed because the connection was lost as transient, and a broken migration as not.
   */
  readonly code: string | undefined;

  constructor(
    readonly migration: string,
    cause: unknown,
    where = '',
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`migration ${migration} failed${where}: ${reason}`, { cause });
    this.name = 'MigrationFailedError';
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => {
      const bytes = await readFile(new URL(name, dir));
      const sql = bytes.toString('utf8');
      const transaction = sql.split(/\r?\n/, 1)[0]!.trim() !== NO_TRANSACTION_DIRECTIVE;
      // Splitting at line ends would cut a dollar-quoted body (a function, a DO block) apart.
      if (!transaction && /\$[A-Za-z_0-9]*\$/.test(sql)) {
        throw new Error(`migration ${name}: a no-transaction migration cannot use dollar quoting`);
      }
      return {
        version: Number(name.slice(0, 4)),
        name,
        sql,
        checksum: createHash('sha256').update(bytes).digest('hex'),
        transaction,
      };
    }),
  );
}

/**
 * The statements of a no-transaction migration: a statement ends at a `;` that is the last character of its
 * line (lines starting with `--` are comments and never end one). Pieces that are only comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let lines: string[] = [];
  const isCode = (line: string) => line.trim() !== '' && !line.trim().startsWith('--');
  for (const line of sql.split(/\r?\n/)) {
    lines.push(line);
    if (isCode(line) && line.trimEnd().endsWith(';')) {
      statements.push(lines.join('\n'));
      lines = [];
    }
  }
  statements.push(lines.join('\n'));
  return statements.filter((s) => s.split('\n').some(isCode));
}

/**
 * Brings the schema up to date. Several processes may start at once: a session-level advisory lock makes
 * them take turns, and each one re-reads what is applied after it gets the lock.
 *
 * Before applying anything it checks every applied migration it knows against its file, and stops with
 * MigrationChangedError if one was edited. Applied migrations it does not know (a newer version of taskd
 * applied them, during a rolling deploy) are logged and left alone.
 */
export async function migrate(pool: pg.Pool, log: Logger, dir: URL = MIGRATIONS_DIR): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  // A session of its own, not one of the pool's: an index build may take longer than the pool's query
  // timeout, and the lock and settings of this session must never go back to the pool.
  const client = new pg.Client({ ...pool.options, statement_timeout: 0, query_timeout: 0 });
  client.on('error', (err) => log.warn({ err: describeDbError(err) }, 'migration connection lost'));
  await client.connect();
  try {
    await client.query('SET statement_timeout = 0');
    await acquireLock(client, log);
    try {
      return await applyPending(client, migrations, log);
    } finally {
      // Must not mask the error being thrown: if the connection is dead, so is the lock.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((err: unknown) => {
        log.warn(
          { err: describeDbError(err) },
          'migration lock not released; closing the connection frees it',
        );
      });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Tries the lock until it gets it, rather than blocking in pg_advisory_lock: a blocked session sits in an open
 * statement, and CREATE INDEX CONCURRENTLY waits for every such statement of the database to end, while the
 * lock holder building the index keeps it waiting: a deadlock.
 */
async function acquireLock(client: pg.Client, log: Logger): Promise<void> {
  let delay = LOCK_RETRY_MIN_MS;
  for (let attempt = 0; ; attempt++) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      MIGRATION_LOCK_KEY,
    ]);
    if (rows[0]?.locked) return;
    if (attempt === 0) log.info('another process is migrating the database; waiting for it');
    await sleep(delay * (0.5 + Math.random() / 2));
    delay = Math.min(delay * 2, LOCK_RETRY_MAX_MS);
  }
}

async function applyPending(client: pg.Client, migrations: Migration[], log: Logger): Promise<number[]> {
  await client.query('CREATE SCHEMA IF NOT EXISTS taskd');
  await client.query(`CREATE TABLE IF NOT EXISTS taskd.migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
    checksum text)`);
  // Tables created before checksums were recorded.
  await client.query('ALTER TABLE taskd.migrations ADD COLUMN IF NOT EXISTS checksum text');
  const { rows } = await client.query<{ version: number; name: string; checksum: string | null }>(
    'SELECT version, name, checksum FROM taskd.migrations ORDER BY version',
  );
  await verifyApplied(client, migrations, rows, log);

  const done = new Set(rows.map((r) => r.version));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await (m.transaction ? applyInTransaction(client, m, log) : applyStatementByStatement(client, m));
    applied.push(m.version);
    log.info({ version: m.version, migration: m.name, transaction: m.transaction }, 'migration applied');
  }
  return applied;
}

async function verifyApplied(
  client: pg.Client,
  migrations: Migration[],
  rows: { version: number; name: string; checksum: string | null }[],
  log: Logger,
): Promise<void> {
  const files = new Map(migrations.map((m) => [m.version, m]));
  const edited = rows.filter((r) => {
    const file = files.get(r.version);
    return file !== undefined && r.checksum !== null && r.checksum !== file.checksum;
  });
  if (edited.length) throw new MigrationChangedError(edited.map((r) => files.get(r.version)!.name));
  const unknown = rows.filter((r) => !files.has(r.version));
  if (unknown.length) {
    log.warn(
      { migrations: unknown.map((r) => r.name) },
      'the database has migrations this version of taskd does not know (a newer version applied them)',
    );
  }
  // Applied before checksums were recorded: the file as it is now is taken to be the one that was applied.
  for (const r of rows) {
    const file = files.get(r.version);
    if (r.checksum !== null || !file) continue;
    await client.query('UPDATE taskd.migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL', [
      r.version,
      file.checksum,
    ]);
    log.info({ version: r.version, migration: file.name }, 'migration checksum recorded');
  }
}

async function applyInTransaction(client: pg.Client, m: Migration, log: Logger): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(m.sql);
    await record(client, m);
    await client.query('COMMIT');
  } catch (err) {
    // On a dead connection the ROLLBACK fails too (the server rolls back on its own): report the migration's
    // error, not that one.
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      log.warn(
        { err: describeDbError(rollbackErr), migration: m.name },
        'rollback of failed migration failed',
      );
    });
    throw new MigrationFailedError(m.name, err);
  }
}

/**
 * Each statement commits on its own, so a crash can leave the file half applied: the next start runs it again
 * from the top, which is why every statement must be re-runnable (see CONTRIBUTING.md).
 */
async function applyStatementByStatement(client: pg.Client, m: Migration): Promise<void> {
  const statements = splitStatements(m.sql);
  for (const [i, statement] of statements.entries()) {
    try {
      await client.query(statement);
    } catch (err) {
      throw new MigrationFailedError(m.name, err, ` at statement ${i + 1} of ${statements.length}`);
    }
  }
  try {
    await record(client, m);
  } catch (err) {
    throw new MigrationFailedError(m.name, err);
  }
}

async function record(client: pg.Client, m: Migration): Promise<void> {
  await client.query('INSERT INTO taskd.migrations (version, name, checksum) VALUES ($1, $2, $3)', [
    m.version,
    m.name,
    m.checksum,
  ]);
}
