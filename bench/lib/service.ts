import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, log, procMemory, sleep } from './util.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMPROBE = fileURLToPath(new URL('./memprobe.mjs', import.meta.url));
export const STMTPROBE = fileURLToPath(new URL('./stmtprobe.mjs', import.meta.url));

const live = new Set<ChildProcess>();
/** Process groups of `npm start` runs (npm, its shell and the service), by the group leader's pid. */
const liveGroups = new Set<number>();
// A benchmark that stops early takes its services with it.
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

export interface MemSample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface ServiceOptions {
  databaseUrl: string;
  env: Record<string, string>;
  /** Called with each stdout line that mentions this text (parsing every line would load the bench's CPU). */
  watch?: { contains: string; onLine: (line: string) => void };
  /** Sample heap and RSS from inside the process every this many ms (a preloaded module writes them to stderr). */
  memprobeMs?: number;
  /** Count the statements the process sends (bench/lib/stmtprobe.mjs); read them with `statements()`. */
  countStatements?: boolean;
  nodeArgs?: string[];
}

/** One running `node dist/main.js`, started with the given environment and stopped with SIGTERM. */
export class Service {
  private exited: Promise<number | null>;

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    /** Samples from inside the process (when started with `memprobeMs`), appended as they arrive. */
    readonly mem: MemSample[],
    private readonly sent: { n: number },
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null) resolve(proc.exitCode);
      else proc.once('exit', (code) => resolve(code));
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: ServiceOptions): Promise<Service> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: options.databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...options.env,
    };
    const args = [...(options.nodeArgs ?? [])];
    if (options.memprobeMs) {
      args.push('--import', MEMPROBE);
      env.BENCH_MEMPROBE_MS = String(options.memprobeMs);
    }
    if (options.countStatements) args.push('--import', STMTPROBE);
    args.push('dist/main.js');
    const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const mem: MemSample[] = [];
    const sent = { n: 0 };
    let stderrTail = '';
    createInterface({ input: proc.stderr }).on('line', (line) => {
      if (line.startsWith('{"stmtprobe"')) {
        sent.n = (JSON.parse(line) as { stmtprobe: { sent: number } }).stmtprobe.sent;
      } else if (line.startsWith('{"memprobe"')) {
        try {
          mem.push((JSON.parse(line) as { memprobe: MemSample }).memprobe);
        } catch {
          // A torn line: skip it.
        }
      } else stderrTail = (stderrTail + line + '\n').slice(-4000);
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`service did not listen within 60 s: ${stderrTail}`)),
        60_000,
      );
      const rl = createInterface({ input: proc.stdout });
      let listening = false;
      rl.on('line', (line) => {
        if (!listening && line.includes('"msg":"listening"')) {
          listening = true;
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        } else if (options.watch && line.includes(options.watch.contains)) options.watch.onLine(line);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (!listening) reject(new Error(`service exited with ${code} before listening: ${stderrTail}`));
      });
    });
    return new Service(proc, port, mem, sent);
  }

  /** Statements sent so far, as of the probe's last report (within BENCH_STMTPROBE_MS); with `countStatements`. */
  async statements(): Promise<number> {
    // The probe reports every 250 ms: wait for one report taken after this call.
    await sleep(300);
    return this.sent.n;
  }

  async memory(): Promise<{ rss: number; hwm: number } | undefined> {
    return procMemory(this.pid);
  }

  /** SIGTERM (graceful), then SIGKILL of this one process if it has not exited within `graceMs`. */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(graceMs).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      log(`service ${this.pid} did not stop within ${graceMs} ms; killing it`);
      this.proc.kill('SIGKILL');
      return this.exited;
    }
    return code;
  }
}

/**
 * The environment of a user's shell: the bench's own, without what `npm run bench` adds to it (npm_* variables,
 * node_modules/.bin on PATH) and without LOG_LEVEL, so the service logs at its default level.
 */
function userEnv(overrides: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'LOG_LEVEL') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => !p.includes(`${path.sep}node_modules${path.sep}.bin`))
    .join(path.delimiter);
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface StartTiming {
  /** Spawn → the service's "listening" log line, as the bench reads it from the pipe. */
  listeningMs: number;
  /** Spawn → the first 200 answer of GET /readyz (polled every 10 ms from the spawn on). */
  readyMs: number;
}

/**
 * The service started the way a user does — `npm start` in the package root (or `node dist/main.js`, to see what
 * npm and the build check add) — in a process group of its own, stopped as Ctrl-C in a terminal would: a signal
 * to the whole group (npm's shell does not pass SIGTERM on).
 */
export class UserStart {
  /** performance.now() and the wall clock at the spawn. */
  readonly t0: number;
  readonly t0Wall: number;
  listeningMs = Number.NaN;
  /** The start compiled the service (only a start on a fresh build is measured). */
  compiled = false;
  /** Statements sent, as the preloaded probe last reported (with `countStatements`). */
  statementsSent = 0;
  private stderr = '';
  private closed = false;
  private readonly whenClosed: Promise<void>;
  private readonly pgid: number;

  constructor(
    readonly command: 'npm start' | 'node dist/main.js',
    readonly port: number,
    env: Record<string, string | undefined>,
    countStatements = false,
  ) {
    const full = userEnv({
      HOST: '127.0.0.1',
      ...env,
      PORT: String(port),
      ...(countStatements && { NODE_OPTIONS: `--import ${STMTPROBE}` }),
    });
    const [file, args] = command === 'npm start' ? ['npm', ['start']] : [process.execPath, ['dist/main.js']];
    this.t0Wall = Date.now();
    this.t0 = performance.now();
    const proc = spawn(file, args, {
      cwd: ROOT,
      env: full,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pgid = proc.pid as number;
    liveGroups.add(this.pgid);
    createInterface({ input: proc.stderr }).on('line', (line) => {
      if (line.startsWith('{"stmtprobe"')) {
        // npm itself runs with the probe too (NODE_OPTIONS), so only the service's large counts matter: the
        // largest report wins.
        const n = (JSON.parse(line) as { stmtprobe: { sent: number } }).stmtprobe.sent;
        this.statementsSent = Math.max(this.statementsSent, n);
        return;
      }
      if (line.includes('build-if-stale:') && line.includes('compiling')) this.compiled = true;
      this.stderr = (this.stderr + line + '\n').slice(-4000);
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (Number.isNaN(this.listeningMs) && line.includes('"msg":"listening"'))
        this.listeningMs = performance.now() - this.t0;
    });
    // 'close': every process of the group holding the pipes (npm, its shell, the service) has gone.
    this.whenClosed = new Promise<void>((resolve) =>
      proc.once('close', () => {
        this.closed = true;
        liveGroups.delete(this.pgid);
        resolve();
      }),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Polls GET /readyz every 10 ms until it answers 200; ms from the spawn. */
  async ready(timeoutMs = 60_000): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error(`${this.command} exited before it was ready: ${this.stderr}`);
      if (performance.now() - this.t0 > timeoutMs)
        throw new Error(`${this.command} not ready within ${timeoutMs} ms: ${this.stderr}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - this.t0;
      } catch {
        // Not listening yet.
      }
      await sleep(10);
    }
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pgid, sig);
    } catch {
      // Gone already.
    }
  }

  async stop(): Promise<void> {
    this.signal('SIGTERM');
    const stopped = await Promise.race([this.whenClosed.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) {
      log(`${this.command} (group ${this.pgid}) did not stop within 30 s; killing it`);
      this.signal('SIGKILL');
      await this.whenClosed;
    }
  }
}

/** Starts the service as a user does (see UserStart) and times it until GET /readyz answers 200. */
export async function timeStart(options: {
  command: 'npm start' | 'node dist/main.js';
  /** Set, or with undefined removed, on top of the user's environment; PORT and HOST are chosen here. */
  env: Record<string, string | undefined>;
  timeoutMs?: number;
}): Promise<StartTiming> {
  const started = new UserStart(options.command, await freePort(), options.env);
  try {
    const readyMs = await started.ready(options.timeoutMs);
    if (started.compiled)
      throw new Error(`${options.command} compiled the service; measure a fresh build only`);
    return { listeningMs: started.listeningMs, readyMs };
  } finally {
    await started.stop();
  }
}
