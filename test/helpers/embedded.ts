import { existsSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ServerProcess } from './server.js';
import { waitFor } from './wait.js';

/**
 * Where, as root, the embedded PostgreSQL keeps a cluster that its server's user cannot reach in DATA_DIR
 * (see the README): a home of its own per DATA_DIR.
 */
export const ROOT_HOMES = '/var/lib/taskd';

/** The postmaster's pid from the cluster's postmaster.pid, or undefined when no server runs there. */
export function postmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** The embedded cluster's directory, as a service's log lines name it (DATA_DIR/pg, or a home of its own). */
export function clusterDirOf(server: ServerProcess): string | undefined {
  const line = server.logs.find(
    (l) => l.msg.startsWith('embedded PostgreSQL') && typeof l.dataDir === 'string',
  );
  return line?.dataDir as string | undefined;
}

/**
 * Removes what a test file's embedded servers leave outside its own temporary folders: a postmaster still
 * running, and a cluster's home under ROOT_HOMES (and ROOT_HOMES itself when the file made it). Create it
 * before the file starts a server; call `run` after the servers' processes have exited.
 */
export class EmbeddedCleanup {
  private readonly rootHomesExisted = existsSync(ROOT_HOMES);

  async run(servers: ServerProcess[]): Promise<void> {
    const clusters = new Set(servers.map(clusterDirOf).filter((d): d is string => d !== undefined));
    for (const cluster of clusters) {
      const pid = postmasterPid(cluster);
      if (pid) {
        process.kill(pid, 'SIGQUIT');
        await waitFor('the embedded postmaster to exit', () => postmasterPid(cluster) === undefined);
      }
      const home = path.dirname(cluster);
      if (path.dirname(home) === ROOT_HOMES) rmSync(home, { recursive: true, force: true });
    }
    if (!this.rootHomesExisted) {
      try {
        // Not recursive: another test file's cluster may still be in there; the last one out removes it.
        rmdirSync(ROOT_HOMES);
      } catch {
        // Absent, or still in use.
      }
    }
  }
}
