import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** Debian's PostgreSQL 15: the only binaries here that include pg_basebackup. */
export const PG_BIN = process.env.TASKD_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why a primary and replica cannot be built on this machine, or undefined when they can. */
export function replicaUnsupported(): string | undefined {
  const missing = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'].filter(
    (b) => !existsSync(path.join(PG_BIN, b)),
  );
  return missing.length > 0 ? `no ${missing.join(', ')} in ${PG_BIN}` : undefined;
}

interface RunAs {
  uid: number;
  gid: number;
}

/**
 * A PostgreSQL primary and a streaming replica of it, both of this test's own: two clusters in a temporary
 * directory on free ports, the replica made with `pg_basebackup -R` (physical streaming replication, hot standby).
 * PostgreSQL refuses to run as root: as root both servers run as the `postgres` system user, which owns the
 * directory. `destroy()` stops both (immediately) and removes everything; call it in an `after` hook.
 */
export class ReplicaPair {
  private constructor(
    readonly dir: string,
    readonly primaryPort: number,
    readonly replicaPort: number,
    private readonly runAs: RunAs | undefined,
  ) {}

  static async start(options: { maxConnections?: number } = {}): Promise<ReplicaPair> {
    const dir = await mkdtemp(path.join(tmpdir(), 'taskd-replica-'));
    let runAs: RunAs | undefined;
    if (userInfo().uid === 0) {
      const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
        run('id', ['-u', 'postgres']),
        run('id', ['-g', 'postgres']),
      ]);
      runAs = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
      await chown(dir, runAs.uid, runAs.gid);
    }
    const pair = new ReplicaPair(dir, await freePort(), await freePort(), runAs);
    try {
      await pair.build(options.maxConnections ?? 60);
    } catch (err) {
      await pair.destroy();
      throw err;
    }
    return pair;
  }

  private get primaryDir() {
    return path.join(this.dir, 'primary');
  }

  private get replicaDir() {
    return path.join(this.dir, 'replica');
  }

  private async pg(binary: string, args: string[]): Promise<string> {
    const { stdout } = await run(path.join(PG_BIN, binary), args, {
      cwd: this.dir,
      env: { ...process.env, LC_ALL: 'C' },
      ...(this.runAs ?? {}),
    });
    return stdout;
  }

  /** Appends settings as the server's user (the file is theirs). */
  private async configure(dataDir: string, lines: string[]): Promise<void> {
    const file = path.join(dataDir, 'postgresql.conf');
    await appendFile(file, `\n${lines.join('\n')}\n`);
  }

  private async build(maxConnections: number): Promise<void> {
    await this.pg('initdb', ['-D', this.primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const common = [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.dir}'`,
      `max_connections = ${maxConnections}`,
      'shared_buffers = 32MB',
      // A throwaway cluster: durability is not what is tested.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
    ];
    await this.configure(this.primaryDir, [
      ...common,
      `port = ${this.primaryPort}`,
      'wal_level = replica',
      'max_wal_senders = 4',
      'hot_standby = on',
    ]);
    await appendFile(
      path.join(this.primaryDir, 'pg_hba.conf'),
      '\nhost replication postgres 127.0.0.1/32 trust\n',
    );
    await this.pg('pg_ctl', ['-D', this.primaryDir, '-l', path.join(this.dir, 'primary.log'), '-w', 'start']);
    await this.pg('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(this.primaryPort),
      '-U',
      'postgres',
      '-D',
      this.replicaDir,
      '-R', // standby.signal and primary_conninfo: a streaming replica
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    // Later lines win: the replica listens on its own port.
    await this.configure(this.replicaDir, [`port = ${this.replicaPort}`]);
    await this.startReplica();
  }

  async startReplica(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.replicaDir, '-l', path.join(this.dir, 'replica.log'), '-w', 'start']);
  }

  /** pg_ctl stop -m fast: the replica's sessions end and new connections are refused. */
  async stopReplica(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.replicaDir, '-m', 'fast', '-w', 'stop']);
  }

  /** Makes the replica a primary of its own (a failover): it no longer follows the primary. */
  async promoteReplica(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.replicaDir, '-w', 'promote']);
  }

  primaryUrl(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.primaryPort}/${database}`;
  }

  replicaUrl(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.replicaPort}/${database}`;
  }

  /** Creates a database on the primary and waits until the replica has it too. */
  async createDatabase(name: string): Promise<void> {
    await query(this.primaryUrl(), `CREATE DATABASE ${name}`);
    await waitFor(`database ${name} on the replica`, async () => {
      const rows = await query(this.replicaUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      return rows.length === 1;
    });
  }

  /** Stops replaying WAL on the replica (it keeps receiving it) until `resumeReplay()`. */
  async pauseReplay(): Promise<void> {
    await query(this.replicaUrl(), 'SELECT pg_wal_replay_pause()');
    await waitFor('replay to pause', async () => {
      const [row] = await query<{ state: string }>(
        this.replicaUrl(),
        'SELECT pg_get_wal_replay_pause_state() AS state',
      );
      return row?.state === 'paused';
    });
  }

  async resumeReplay(): Promise<void> {
    await query(this.replicaUrl(), 'SELECT pg_wal_replay_resume()');
  }

  /** Stops both servers at once (whatever they were doing) and removes their files. */
  async destroy(): Promise<void> {
    for (const dataDir of [this.replicaDir, this.primaryDir]) {
      if (!existsSync(path.join(dataDir, 'postmaster.pid'))) continue;
      await this.pg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One statement on a connection of its own. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
