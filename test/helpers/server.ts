import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const MAIN = path.resolve('dist/main.js');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The log lines of a graceful shutdown, in order. */
export const SHUTDOWN_STEPS = [
  'shutdown requested',
  'stopped claiming; waiting for running tasks',
  'worker deregistered',
  'http server closed',
  'database connections closed',
  'shutdown complete',
];

/** Settings for test servers: fast and small, overridable per test. */
export const TEST_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
  SIMULATE_MIN_MS: '50',
  SIMULATE_MAX_MS: '150',
  LEASE_MS: '2000',
  POLL_INTERVAL_MS: '200',
  SHUTDOWN_GRACE_MS: '2000',
  DB_POOL_SIZE: '10',
};

export interface ServerOptions {
  /** The entry point to run: the checkout's dist/main.js unless given (a copy of the service elsewhere). */
  main?: string;
  /** The process's working directory, against which relative settings such as DATA_DIR resolve. */
  cwd?: string;
}

/**
 * A real taskd process (node dist/main.js). Its JSON log lines are parsed and kept, and tests wait on them as
 * events rather than sleeping.
 */
export class ServerProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly events = new EventEmitter();
  private child: ChildProcess;
  url = '';

  constructor(env: Record<string, string | undefined>, options: ServerOptions = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...TEST_ENV };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    delete childEnv.TASKD_TEST_ADMIN_URL;
    this.child = spawn(process.execPath, [options.main ?? MAIN], {
      cwd: options.cwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.events.setMaxListeners(1000);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { level: 0, msg: line };
      }
      this.logs.push(parsed);
      this.events.emit('log', parsed);
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    // 'close', not 'exit': it comes after stdout has ended, so every log line the process wrote has been read.
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => resolve({ code, signal })),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('log', onLog);
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      const onLog = (l: LogLine) => {
        if (!predicate(l)) return;
        clearTimeout(timer);
        this.events.off('log', onLog);
        resolve(l);
      };
      this.events.on('log', onLog);
      void this.exited.then(() => {
        if (this.events.listeners('log').includes(onLog)) {
          clearTimeout(timer);
          this.events.off('log', onLog);
          reject(new Error(`process exited before a matching log line; last lines:\n${this.tail()}`));
        }
      });
    });
  }

  /**
   * Resolves with the first log line of the named event (see src/events/bus.ts) that matches: tests wait on what
   * happened, not on how a log line words it.
   */
  waitForEvent(
    event: string,
    predicate: (l: LogLine) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<LogLine> {
    return this.waitForLog((l) => l.event === event && predicate(l), timeoutMs);
  }

  tail(n = 15): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.stderr.slice(-5)].join('\n');
  }

  /** Waits until the server listens; sets `url`. */
  async ready(timeoutMs = 60_000): Promise<this> {
    const line = await this.waitForEvent('http.listening', undefined, timeoutMs);
    this.url = `http://127.0.0.1:${String(line.port)}`;
    await this.waitForLog((l) => l.event === 'engine.started' || l.event === 'engine.disabled', timeoutMs);
    return this;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Kills the process if it still runs and waits for it to exit. */
  async close(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

export async function startServer(
  env: Record<string, string | undefined>,
  options?: ServerOptions,
): Promise<ServerProcess> {
  const server = new ServerProcess(env, options);
  try {
    return await server.ready();
  } catch (err) {
    await server.close();
    throw err;
  }
}
