import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { log, procMemory, sleep } from './util.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMPROBE = fileURLToPath(new URL('./memprobe.mjs', import.meta.url));

const live = new Set<ChildProcess>();
// A benchmark that stops early takes its services with it.
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
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
    createInterface({ input: proc.stderr! }).on('line', (line) => {
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
      const rl = createInterface({ input: proc.stdout! });
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
