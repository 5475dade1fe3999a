import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_ENV, type LogLine } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `npm start` as a user runs it, in a copy of the package whose TypeScript compiler is a stand-in: it records
 * each call and succeeds or fails as the test says (FAKE_TSC_EXIT). dist/ is the one the suite was built with.
 */

const REPO = path.resolve('.');

const FAKE_TSC = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
fs.appendFileSync(path.join(__dirname, 'calls.log'), JSON.stringify(process.argv.slice(2)) + '\\n');
const code = Number(process.env.FAKE_TSC_EXIT ?? '1');
if (code !== 0) console.error('fake tsc: no compiler in this copy');
process.exit(code);
`;

/** A copy of the package: sources, scripts, migrations, dist/ without its build record, node_modules linked. */
function copyPackage(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'taskd-npm-start-'));
  for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(path.join(REPO, name), path.join(dir, name));
  }
  for (const name of ['src', 'scripts', 'migrations']) {
    cpSync(path.join(REPO, name), path.join(dir, name), { recursive: true });
  }
  cpSync(path.join(REPO, 'dist'), path.join(dir, 'dist'), {
    recursive: true,
    filter: (from) => path.basename(from) !== '.build-inputs.json',
  });
  // Every dependency but the compiler, linked to the real ones; the compiler (by module and by .bin) is fake.
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '.bin'), { recursive: true });
  for (const name of readdirSync(path.join(REPO, 'node_modules'))) {
    if (name === '.bin' || name === 'typescript' || name === '.package-lock.json') continue;
    symlinkSync(path.join(REPO, 'node_modules', name), path.join(modules, name));
  }
  for (const name of readdirSync(path.join(REPO, 'node_modules', '.bin'))) {
    if (name === 'tsc' || name === 'tsserver') continue;
    symlinkSync(path.join(REPO, 'node_modules', '.bin', name), path.join(modules, '.bin', name));
  }
  mkdirSync(path.join(modules, 'typescript', 'bin'), { recursive: true });
  writeFileSync(
    path.join(modules, 'typescript', 'package.json'),
    JSON.stringify({ name: 'typescript', version: '0.0.0', bin: { tsc: './bin/tsc' } }),
  );
  writeFileSync(path.join(modules, 'typescript', 'bin', 'tsc'), FAKE_TSC);
  chmodSync(path.join(modules, 'typescript', 'bin', 'tsc'), 0o755);
  symlinkSync('../typescript/bin/tsc', path.join(modules, '.bin', 'tsc'));
  return dir;
}

/** The environment of a user's shell: no npm_* variables of the `npm test` around us, no repo .bin on PATH. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'TASKD_TEST_ADMIN_URL') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => !p.includes(`${path.sep}node_modules${path.sep}.bin`))
    .join(path.delimiter);
  // No look-up of npm's own newer versions, and no npm debug logs in ~/.npm for the starts meant to fail.
  return { ...env, ...TEST_ENV, npm_config_update_notifier: 'false', npm_config_logs_max: '0', ...extra };
}

/** An `npm` command in the copy, in a process group of its own (stopped like Ctrl-C stops it: the whole group). */
class NpmRun {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly events = new EventEmitter();
  private readonly child: ChildProcess;
  private done = false;
  url = '';

  constructor(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn('npm', args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
    // 'close' comes once every process of the group that holds the pipes (npm, its shell, the service) is gone.
    this.closed = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.done = true;
        this.events.emit('closed');
        resolve({ code, signal });
      }),
    );
  }

  tail(): string {
    return [...this.logs.slice(-10).map((l) => JSON.stringify(l)), ...this.stderr.slice(-10)].join('\n');
  }

  /** Resolves with the first matching log line; rejects if the command ends first or after `timeoutMs`. */
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (err?: Error, line?: LogLine) => {
        clearTimeout(timer);
        this.events.off('log', onLog);
        this.events.off('closed', onClosed);
        if (err) reject(err);
        else resolve(line!);
      };
      const onLog = (l: LogLine) => predicate(l) && finish(undefined, l);
      const onClosed = () => finish(new Error(`npm ended before a matching log line:\n${this.tail()}`));
      const timer = setTimeout(
        () => finish(new Error(`no matching log line within ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      );
      this.events.on('log', onLog);
      this.events.on('closed', onClosed);
      if (this.done) onClosed();
    });
  }

  /** Waits for the 'listening' line and a 200 from GET /readyz. */
  async ready(): Promise<this> {
    const line = await this.waitForLog((l) => l.msg === 'listening');
    this.url = `http://127.0.0.1:${String(line.port)}`;
    await waitFor('GET /readyz answers 200', async () => (await fetch(`${this.url}/readyz`)).status === 200);
    return this;
  }

  /** SIGTERM to the group, as Ctrl-C sends SIGINT to it; waits until all of it has gone. */
  /** SIGTERM to npm alone, as a supervisor that knows only the pid it started sends it. */
  signalNpm(): void {
    if (!this.done) process.kill(this.child.pid!, 'SIGTERM');
  }

  async stop(): Promise<void> {
    if (!this.done) process.kill(-this.child.pid!, 'SIGTERM');
    await this.closed;
  }

  /** SIGKILL to whatever of the group is left. */
  async kill(): Promise<void> {
    if (this.done) return;
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await this.closed;
  }
}

describe('npm start compiles only when the sources changed', () => {
  let dir = '';
  let db: TestDatabase;
  const runs: NpmRun[] = [];

  before(async () => {
    dir = copyPackage();
    db = await createTestDatabase();
  });

  after(async () => {
    for (const r of runs) await r.kill();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const compilerCalls = (): string[][] => {
    const log = path.join(dir, 'node_modules', 'typescript', 'bin', 'calls.log');
    if (!existsSync(log)) return [];
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);
  };

  function npm(args: string[], compilerExit: number): NpmRun {
    const run = new NpmRun(dir, args, userEnv({ DATABASE_URL: db.url, FAKE_TSC_EXIT: String(compilerExit) }));
    runs.push(run);
    return run;
  }

  async function startAndStop(compilerExit: number): Promise<void> {
    const run = await npm(['start'], compilerExit).ready();
    await run.stop();
    assert.ok(
      run.logs.some((l) => l.msg === 'shutdown complete'),
      `the service shut down gracefully:\n${run.tail()}`,
    );
  }

  async function failedStart(compilerExit: number): Promise<NpmRun> {
    const run = npm(['start'], compilerExit);
    const { code } = await run.closed;
    assert.notEqual(code, 0, 'npm start fails when the compile fails');
    assert.ok(!run.logs.some((l) => l.msg === 'listening'), 'the service was not started');
    return run;
  }

  const check = () =>
    spawnSync(process.execPath, ['scripts/build-if-stale.mjs', '--check'], { cwd: dir, encoding: 'utf8' });

  const assertFresh = () => {
    const r = check();
    assert.deepEqual([r.status, r.stdout.trim()], [0, 'fresh'], r.stderr);
  };

  /** Records the copy as built, through the script and the stand-in compiler, as a successful compile would. */
  function markBuilt(): void {
    const r = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: userEnv({ FAKE_TSC_EXIT: '0' }),
    });
    assert.equal(r.status, 0, r.stderr);
  }

  /** Sets a file's modification time to now: "edited after the last build". */
  const touch = (rel: string) => utimesSync(path.join(dir, rel), new Date(), new Date());

  test('after one successful build, npm start and npm run migrate run without the compiler', async () => {
    // The copy has no build record: the first start compiles (here: the stand-in succeeds on the dist/ in place).
    await startAndStop(0);
    assert.deepEqual(compilerCalls(), [['-p', 'tsconfig.build.json']]);

    // Fresh now: a compiler that would fail is not called, and the service becomes ready.
    await startAndStop(1);
    const migrate = npm(['run', 'migrate'], 1);
    assert.equal((await migrate.closed).code, 0, migrate.tail());
    assert.equal(compilerCalls().length, 1, 'the compiler ran only for the first start');
  });

  test('SIGTERM to the npm process alone reaches the service, which shuts down gracefully', async () => {
    markBuilt();
    const run = await npm(['start'], 1).ready();
    run.signalNpm();
    // 'closed' comes only once every process holding the pipes is gone: none is left behind as an orphan.
    const { code } = await run.closed;
    assert.ok(
      run.logs.some((l) => l.msg === 'shutdown complete'),
      `graceful shutdown:\n${run.tail()}`,
    );
    assert.equal(code, 0);
  });

  test('an edited source is compiled by the next npm start; a failed compile is tried again', async () => {
    const before = compilerCalls().length;
    touch('src/engine/engine.ts');

    const failed = await failedStart(1);
    assert.equal(compilerCalls().length, before + 1, 'the edit made npm start run the compiler');
    assert.ok(
      failed.stderr.some((l) => l.includes('src/engine/engine.ts changed since the last build')),
      failed.stderr.join('\n'),
    );
    assert.ok(failed.stderr.some((l) => l.includes('fake tsc: no compiler')));

    // A compile that failed (a type error, say) is not recorded as a build: the next start compiles again.
    await failedStart(1);
    assert.equal(compilerCalls().length, before + 2);

    await startAndStop(0);
    assert.equal(compilerCalls().length, before + 3);
    // Recorded now: no compile on the start after.
    await startAndStop(1);
    assert.equal(compilerCalls().length, before + 3);
  });

  test('the check: every kind of input change is stale, other files are not', () => {
    markBuilt();
    assertFresh();
    const stale = (expected: string) => {
      const r = check();
      assert.equal(r.status, 1, r.stdout);
      assert.equal(r.stdout.trim(), `stale: ${expected}`);
      markBuilt();
    };
    for (const rel of [
      'src/main.ts',
      'src/db/store.ts',
      'tsconfig.json',
      'tsconfig.build.json',
      'package.json',
    ]) {
      touch(rel);
      stale(`${rel} changed since the last build`);
    }
    writeFileSync(path.join(dir, 'src/handlers/extra.ts'), 'export const extra = 1;\n');
    // What a compile would have written for it (the stand-in compiler writes nothing).
    writeFileSync(path.join(dir, 'dist/handlers/extra.js'), 'export const extra = 1;\n');
    stale('src/handlers/extra.ts is new since the last build');
    rmSync(path.join(dir, 'src/handlers/extra.ts'));
    stale('src/handlers/extra.ts was removed since the last build');

    // An editor's swap and backup files are not inputs of the compiler.
    writeFileSync(path.join(dir, 'src/.main.ts.swp'), 'x');
    writeFileSync(path.join(dir, 'src/main.ts~'), 'x');
    assertFresh();

    // Checked last: a build by the stand-in compiler cannot bring a missing output back.
    renameSync(path.join(dir, 'dist/http/presenters.js'), path.join(dir, 'presenters.js'));
    const missing = check();
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout.trim(), 'stale: dist/http/presenters.js is missing');
    renameSync(path.join(dir, 'presenters.js'), path.join(dir, 'dist/http/presenters.js'));
    assertFresh();
  });

  test("npm ci's prepare compiles a stale copy, and without TypeScript installed skips instead of failing", async () => {
    touch('src/app.ts');
    const before = compilerCalls().length;
    const prepare = npm(['run', 'prepare'], 0);
    assert.equal((await prepare.closed).code, 0, prepare.tail());
    assert.equal(compilerCalls().length, before + 1);
    assertFresh();

    // An install without dev dependencies: no compiler at all.
    const modules = path.join(dir, 'node_modules');
    renameSync(path.join(modules, 'typescript'), path.join(dir, 'typescript-away'));
    rmSync(path.join(modules, '.bin', 'tsc'));
    touch('src/app.ts');
    const skipped = npm(['run', 'prepare'], 0);
    assert.equal((await skipped.closed).code, 0, skipped.tail());
    assert.ok(
      skipped.stderr.some((l) => l.includes('TypeScript is not installed')),
      skipped.tail(),
    );
    // npm start does not run stale code: it says what is missing.
    const refused = await failedStart(0);
    assert.ok(
      refused.stderr.some((l) => l.includes('TypeScript is not installed: run npm ci')),
      refused.tail(),
    );
  });
});
