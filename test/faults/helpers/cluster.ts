import { startServer, type LogLine, type ServerProcess } from '../../helpers/server.js';

/**
 * N taskd processes on one database, each in a numbered slot. A slot's process can be killed and a new one
 * started in its place; every process ever started is kept, with its logs, so that a scenario can read what
 * all of them did, dead ones included.
 */
export class Cluster {
  readonly processes: ServerProcess[] = [];
  readonly killed: ServerProcess[] = [];
  private readonly slots: (ServerProcess | undefined)[];

  constructor(
    private readonly env: Record<string, string | undefined>,
    size: number,
  ) {
    this.slots = Array.from({ length: size }, () => undefined);
  }

  get size(): number {
    return this.slots.length;
  }

  async start(): Promise<this> {
    // One first, so that it runs the migrations while the others wait for nothing.
    await this.startSlot(0);
    await Promise.all(this.slots.slice(1).map((_, i) => this.startSlot(i + 1)));
    return this;
  }

  async startSlot(i: number): Promise<ServerProcess> {
    if (this.slots[i]) throw new Error(`slot ${i} is running`);
    const server = await startServer(this.env);
    this.processes.push(server);
    this.slots[i] = server;
    return server;
  }

  slot(i: number): ServerProcess | undefined {
    return this.slots[i];
  }

  /** Base URLs of the processes running now. */
  liveUrls(): string[] {
    return this.slots.flatMap((s) => (s ? [s.url] : []));
  }

  live(): ServerProcess[] {
    return this.slots.flatMap((s) => (s ? [s] : []));
  }

  /** kill -9, and wait until the process is gone. */
  async kill9(i: number): Promise<ServerProcess> {
    const server = this.slots[i];
    if (!server) throw new Error(`slot ${i} is empty`);
    this.slots[i] = undefined;
    server.kill('SIGKILL');
    await server.exited;
    this.killed.push(server);
    return server;
  }

  /** Every log line of every process (dead or alive), in no particular order across processes. */
  logs(predicate: (l: LogLine) => boolean = () => true): LogLine[] {
    return this.processes.flatMap((p) => p.logs.filter(predicate));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close()));
  }
}

/** The worker ids a process registered under (a second one if it lost its lease and registered again). */
export function workerIds(server: ServerProcess): string[] {
  return server.logs.filter((l) => l.msg === 'worker registered').map((l) => String(l.worker_id));
}

export const isStarted = (l: LogLine): boolean => l.msg === 'task started';
export const isStatusChange = (l: LogLine): boolean => l.msg === 'task status changed';
export const isWorkerRecovered = (l: LogLine): boolean =>
  typeof l.msg === 'string' && l.msg.startsWith('lost worker recovered');

/** Counts of a key over log lines: how many lines name each value. */
export function countBy(lines: LogLine[], key: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const v = String(l[key]);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

/** VmRSS of a live process, in MiB (undefined once it is gone). */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
