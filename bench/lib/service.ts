import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, log, procMemory, sleep } from './util.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMPROBE = fileURLToPath(new URL('./memprobe.mjs', import.meta.url));

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
    args.push('dist/main.js');
    const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const mem: MemSample[] = [];
    let stderrTail = '';
    createInterface({ input: proc.stderr }).on('line', (line) => {
      if (line.startsWith('{"memprobe"')) {
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
    return new Service(proc, port, mem);
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
 * Starts the service the way a user does — `npm start` in the package root (or `node dist/main.js`, to see what
 * npm and the build check add) — in a process group of its own, times it until GET /readyz answers 200, and
 * stops it as Ctrl-C in a terminal would: a signal to the whole group (npm's shell does not pass SIGTERM on).
 * Fails if the start compiled the service: only a start on a fresh build is measured.
 */
export async function timeStart(options: {
  command: 'npm start' | 'node dist/main.js';
  /** Set, or with undefined removed, on top of the user's environment; PORT and HOST are chosen here. */
  env: Record<string, string | undefined>;
  timeoutMs?: number;
}): Promise<StartTiming> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const port = await freePort();
  const env = userEnv({ HOST: '127.0.0.1', ...options.env, PORT: String(port) });
  const [file, args] =
    options.command === 'npm start' ? ['npm', ['start']] : [process.execPath, ['dist/main.js']];
  const t0 = performance.now();
  const proc = spawn(file, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = proc.pid as number;
  liveGroups.add(pgid);
  let stderr = '';
  let listeningMs = Number.NaN;
  let compiled = false;
  createInterface({ input: proc.stderr }).on('line', (line) => {
    if (line.includes('build-if-stale:') && line.includes('compiling')) compiled = true;
    stderr = (stderr + line + '\n').slice(-4000);
  });
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (Number.isNaN(listeningMs) && line.includes('"msg":"listening"')) listeningMs = performance.now() - t0;
  });
  // 'close': every process of the group holding the pipes (npm, its shell, the service) has gone.
  let closed = false;
  const whenClosed = new Promise<void>((resolve) =>
    proc.once('close', () => {
      closed = true;
      liveGroups.delete(pgid);
      resolve();
    }),
  );
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // Gone already.
    }
  };
  try {
    let readyMs = Number.NaN;
    while (Number.isNaN(readyMs)) {
      if (closed) throw new Error(`${options.command} exited before it was ready: ${stderr}`);
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`${options.command} not ready within ${timeoutMs} ms: ${stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) readyMs = performance.now() - t0;
      } catch {
        // Not listening yet.
      }
      if (Number.isNaN(readyMs)) await sleep(10);
    }
    if (compiled) throw new Error(`${options.command} compiled the service; measure a fresh build only`);
    return { listeningMs, readyMs };
  } finally {
    signal('SIGTERM');
    const stopped = await Promise.race([whenClosed.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) {
      log(`${options.command} (group ${pgid}) did not stop within 30 s; killing it`);
      signal('SIGKILL');
      await whenClosed;
    }
  }
}
