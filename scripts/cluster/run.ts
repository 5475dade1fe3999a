/**
 * `npm run test:cluster` (add `-- --measure` for the longer measuring run): several hosts on one machine.
 *
 * Builds the hosts as Linux network namespaces (one for PostgreSQL, three for taskd, one for load, and a switch
 * with a bridge that joins them over veth links, on 10.231.0.0/24), starts a PostgreSQL cluster of its own in
 * the PostgreSQL namespace (as the `postgres` system user: it refuses to run as root), and runs the scenarios of
 * driver.ts inside the load namespace, which starts `node dist/main.js` in the taskd namespaces. Everything it
 * made is removed at the end, also on failure and on Ctrl-C; leftovers of an earlier run that crashed (by the
 * harness's prefix, and only those whose run is gone) are removed first.
 *
 * Needs root and iproute2; the clock-skew case needs libfaketime (Debian's `faketime`) and is skipped without it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { HOSTS, PG_PORT, PREFIX, SUBNET, ipOf, namespaces, switchPort } from './topology.js';

const PG_BIN = process.env.CLUSTER_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const runId = process.pid;
const ns = namespaces(runId);
const dir = `/tmp/${PREFIX}${runId}`;

function sh(cmd: string, args: string[], opts: { ignoreFailure?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !opts.ignoreFailure) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message || ''}`);
  }
  return r.stdout ?? '';
}
const ip = (...args: string[]) => sh('ip', args);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process in a namespace of the harness (they are all its own), then removes the namespace. */
function removeNamespace(name: string): void {
  if (!name.startsWith(PREFIX)) throw new Error(`refusing to touch namespace ${name}`);
  for (const line of sh('ip', ['netns', 'pids', name], { ignoreFailure: true }).split('\n')) {
    const pid = Number(line.trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  sh('ip', ['netns', 'delete', name], { ignoreFailure: true });
}

/** Namespaces and directories of earlier runs of the harness whose process is gone. */
function cleanLeftovers(): void {
  const stale = (name: string): boolean => {
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    return pid > 0 && pid !== runId && !alive(pid);
  };
  for (const line of sh('ip', ['netns', 'list'], { ignoreFailure: true }).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(PREFIX) && stale(name)) {
      console.log(`removing namespace ${name} left by an earlier run`);
      removeNamespace(name);
    }
  }
  for (const name of readdirSync('/tmp')) {
    if (name.startsWith(PREFIX) && stale(name)) {
      console.log(`removing /tmp/${name} left by an earlier run`);
      rmSync(`/tmp/${name}`, { recursive: true, force: true });
    }
  }
}

function buildNetwork(): void {
  ip('netns', 'add', ns.sw);
  ip('-n', ns.sw, 'link', 'set', 'lo', 'up');
  ip('-n', ns.sw, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', ns.sw, 'link', 'set', 'br0', 'up');
  for (const h of HOSTS) {
    const hostNs = ns[h.name];
    ip('netns', 'add', hostNs);
    ip('-n', hostNs, 'link', 'set', 'lo', 'up');
    ip(
      '-n',
      ns.sw,
      'link',
      'add',
      switchPort(h.name),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      hostNs,
    );
    ip('-n', ns.sw, 'link', 'set', switchPort(h.name), 'master', 'br0');
    ip('-n', ns.sw, 'link', 'set', switchPort(h.name), 'up');
    ip('-n', hostNs, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
    ip('-n', hostNs, 'link', 'set', 'eth0', 'up');
  }
}

function uid(user: string): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  if (r.status !== 0) {
    sh('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  }
  return { uid: Number(sh('id', ['-u', user]).trim()), gid: Number(sh('id', ['-g', user]).trim()) };
}

const asPostgres = (args: string[]) => ['netns', 'exec', ns.pg, 'runuser', '-u', 'postgres', '--', ...args];

function startPostgres(): void {
  const pgUser = uid('postgres');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const pgDir = path.join(dir, 'pg');
  const sockDir = path.join(dir, 'sock');
  mkdirSync(sockDir);
  chownSync(sockDir, pgUser.uid, pgUser.gid);
  mkdirSync(pgDir, { mode: 0o700 });
  chownSync(pgDir, pgUser.uid, pgUser.gid);
  sh(
    'ip',
    asPostgres([`${PG_BIN}/initdb`, '-D', pgDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '-N']),
  );
  appendFileSync(path.join(pgDir, 'pg_hba.conf'), `host all all ${SUBNET}.0/24 trust\n`);
  const settings = [
    `listen_addresses=${ipOf('pg')}`,
    `port=${PG_PORT}`,
    `unix_socket_directories=${sockDir}`,
    'max_connections=200',
    'shared_buffers=256MB',
    'track_io_timing=on',
    'track_wal_io_timing=on',
  ];
  const options = settings.map((s) => `-c ${s}`).join(' ');
  sh(
    'ip',
    asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      pgDir,
      '-l',
      path.join(sockDir, 'postgres.log'),
      '-w',
      '-o',
      options,
      'start',
    ]),
  );
}

function stopPostgres(): void {
  const pgDir = path.join(dir, 'pg');
  if (!existsSync(path.join(pgDir, 'postmaster.pid'))) return;
  sh('ip', asPostgres([`${PG_BIN}/pg_ctl`, '-D', pgDir, '-m', 'fast', '-w', '-t', '20', 'stop']), {
    ignoreFailure: true,
  });
}

let driver: ChildProcess | undefined;
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  if (driver?.pid && driver.exitCode === null) {
    try {
      driver.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  // The taskd hosts first, so that PostgreSQL stops with no client left; then the server, then the network.
  for (const host of ['t1', 't2', 't3', 'load'] as const) removeNamespace(ns[host]);
  stopPostgres();
  removeNamespace(ns.pg);
  removeNamespace(ns.sw);
  if (process.env.CLUSTER_KEEP_DIR !== '1') rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('the cluster harness makes network namespaces: run it as root');
    return 2;
  }
  cleanLeftovers();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`${signal}: removing the cluster`);
      cleanup();
      process.exit(130);
    });
  }
  try {
    buildNetwork();
    startPostgres();
    const pgPid = Number(readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    console.log(
      `cluster ${PREFIX}${runId}: PostgreSQL ${ipOf('pg')}:${PG_PORT} (pid ${pgPid}), hosts ${HOSTS.map((h) => `${h.name}=${h.ip}`).join(' ')}`,
    );
    const args = [
      'netns',
      'exec',
      ns.load,
      process.execPath,
      '--import',
      'tsx',
      'scripts/cluster/driver.ts',
      ...process.argv.slice(2),
    ];
    driver = spawn('ip', args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        CLUSTER_RUN_ID: String(runId),
        CLUSTER_DIR: dir,
        CLUSTER_PG_PID: String(pgPid),
      },
    });
    const child = driver;
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  } catch (err) {
    console.error(err);
    cleanup();
    return 1;
  }
}

void main().then((code) => {
  cleanup();
  process.exit(code);
});
