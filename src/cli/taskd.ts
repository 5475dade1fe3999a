#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createTaskdClient, type paths, type Task } from '../client/index.js';
import { CliError, EXIT, exitCodeForState, exitCodeForStatus } from './exit-codes.js';
import { followTask, unreachable } from './follow.js';
import { fields, inline, ProgressView, table, taskFields } from './render.js';

/**
 * `taskd`: the service's command line. `serve` and `migrate` run the service and its migrations; every other
 * command is a client of the HTTP API (the typed client of src/client), against TASKD_URL or --url. Exit codes:
 * exit-codes.ts and docs/cli.md.
 */

type Queue = paths['/v1/queues']['get']['responses'][200]['content']['application/json']['queues'][number];
type Schedule = paths['/v1/schedules/{name}']['get']['responses'][200]['content']['application/json'];
type CreateBody = paths['/v1/tasks']['post']['requestBody']['content']['application/json'];
type TaskState = Task['state'];

const DEFAULT_URL = 'http://127.0.0.1:8080';
const STATES: readonly TaskState[] = ['queued', 'scheduled', 'running', 'completed', 'failed', 'cancelled'];

interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

const write = (text: string): void => void process.stdout.write(text);
const printJson = (value: unknown): void => write(`${JSON.stringify(value, null, 2)}\n`);

// ---- argument parsers: a bad value is a usage error (exit 3) with a message saying which ----

function json(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new InvalidArgumentError('must be JSON, e.g. \'{"n": 1}\' or \'"text"\'.');
  }
}

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    }
    return Number(value);
  };
}

/** `--state` may be given more than once; each must be a state of the API. */
function collectState(value: string, previous: TaskState[]): TaskState[] {
  if (!(STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${STATES.join(', ')}.`);
  }
  return [...previous, value as TaskState];
}

// ---- talking to the service ----

function client(opts: GlobalOptions) {
  return createTaskdClient({ baseUrl: opts.url, token: opts.token });
}

interface ApiResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or the CliError its error answer (or the lack of any answer) stands for. */
async function call<T>(opts: GlobalOptions, request: Promise<ApiResult<T>>): Promise<T> {
  let result: ApiResult<T>;
  try {
    result = await request;
  } catch (err) {
    throw unreachable(opts.url, err);
  }
  if (!result.response.ok || result.data === undefined) {
    const body = result.error as { error?: string; code?: string; details?: unknown } | undefined;
    const details = body?.details === undefined ? '' : `\n${detailsText(body.details)}`;
    throw new CliError(
      `${body?.error ?? `HTTP ${result.response.status}`}${body?.code ? ` (${body.code})` : ''}${details}`,
      exitCodeForStatus(result.response.status),
    );
  }
  return result.data;
}

function detailsText(details: unknown): string {
  if (!Array.isArray(details)) return `  ${JSON.stringify(details)}`;
  return details
    .map((d: { path?: string; message?: string }) => `  ${d.path ?? ''}: ${d.message ?? JSON.stringify(d)}`)
    .join('\n');
}

/** Follows the task until it ends (a bar or lines on stderr), prints it, and exits as its end says. */
async function waitAndReport(opts: GlobalOptions, task: Task): Promise<number> {
  const view = new ProgressView(process.stderr, process.stdout.isTTY === true && !opts.json);
  const ended = await followTask({
    baseUrl: opts.url,
    token: opts.token,
    id: task.id,
    onTask: (t) => view.update(t),
  }).finally(() => view.done());
  if (opts.json) printJson(ended);
  else write(taskFields(ended));
  return exitCodeForState(ended.state);
}

function printTask(opts: GlobalOptions, task: Task): void {
  if (opts.json) printJson(task);
  else write(taskFields(task));
}

function printQueues(opts: GlobalOptions, queues: Queue[]): void {
  if (opts.json) return printJson({ queues });
  const count = (q: Queue, s: string) => String(q.counts[s] ?? 0);
  write(
    table(
      ['NAME', 'PAUSED', 'CONCURRENCY', 'QUEUED', 'SCHEDULED', 'RUNNING', 'FAILED', 'OLDEST QUEUED'],
      queues.map((q) => [
        q.name,
        q.paused ? 'yes' : 'no',
        q.concurrency === null ? 'unlimited' : String(q.concurrency),
        count(q, 'queued'),
        count(q, 'scheduled'),
        count(q, 'running'),
        count(q, 'failed'),
        q.oldest_queued_age_ms === null ? '-' : `${Math.round(q.oldest_queued_age_ms / 1000)} s`,
      ]),
    ),
  );
}

function printSchedules(opts: GlobalOptions, schedules: Schedule[]): void {
  if (opts.json) return printJson({ schedules });
  write(
    table(
      ['NAME', 'CRON', 'TIMEZONE', 'KIND', 'PAUSED', 'NEXT RUN', 'LAST RUN'],
      schedules.map((s) => [
        s.name,
        s.cron,
        s.timezone,
        inline((s.task as { kind?: unknown }).kind),
        s.paused ? 'yes' : 'no',
        s.next_run_at ?? '-',
        s.last_run_at ?? '-',
      ]),
    ),
  );
}

// ---- the commands ----

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('taskd')
    .description('taskd, a durable task service on PostgreSQL: run it, and talk to it.')
    .addOption(new Option('--url <url>', 'where taskd answers').env('TASKD_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'a bearer token of API_TOKENS').env('TASKD_TOKEN'))
    .option('--json', 'print the raw JSON answer, for scripts')
    .showHelpAfterError('(taskd --help lists the commands; taskd <command> --help its options)')
    .exitOverride();
  const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
  // Every action resolves to its exit code.
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) =>
    async (...args: A) =>
      exit((await fn(...args)) ?? EXIT.OK);

  program
    .command('serve')
    .description('run the service (as `npm start`; configured by its environment variables)')
    .action(async () => {
      await import('../main.js');
    });

  program
    .command('migrate')
    .description('apply pending migrations to DATABASE_URL and exit (as `npm run migrate`)')
    .action(async () => {
      await import('./migrate.js');
    });

  program
    .command('create <kind>')
    .description('create a task')
    .option('--input <json>', 'the task input, as JSON', json)
    .option('--queue <name>', 'the queue')
    .option('--priority <n>', 'higher runs first', integer(-1_000_000, 1_000_000))
    .option(
      '--delay-ms <ms>',
      'run no sooner than this many milliseconds from now',
      integer(0, 31_536_000_000),
    )
    .option('--max-attempts <n>', 'runs allowed, retries included', integer(1, 1000))
    .option('--timeout-ms <ms>', 'deadline of each run', integer(1, 86_400_000))
    .option('--idempotency-key <key>', 'a repeat with the same key creates nothing new')
    .option('--wait', 'wait for the task to end; the exit code says how it ended')
    .action(
      run(async (kind: string, o: Record<string, unknown>, cmd: Command) => {
        const opts = g(cmd);
        const body: CreateBody = {
          kind,
          ...(o.input !== undefined && { input: o.input }),
          ...(o.queue !== undefined && { queue: o.queue as string }),
          ...(o.priority !== undefined && { priority: o.priority as number }),
          ...(o.delayMs !== undefined && { delay_ms: o.delayMs as number }),
          ...(o.maxAttempts !== undefined && { max_attempts: o.maxAttempts as number }),
          ...(o.timeoutMs !== undefined && { timeout_ms: o.timeoutMs as number }),
          ...(o.idempotencyKey !== undefined && { idempotency_key: o.idempotencyKey as string }),
        };
        const task = await call(opts, client(opts).POST('/v1/tasks', { body }));
        if (o.wait) return waitAndReport(opts, task);
        printTask(opts, task);
      }),
    );

  program
    .command('get <id>')
    .description('show a task')
    .option('--wait', 'wait for the task to end, showing its progress; the exit code says how it ended')
    .action(
      run(async (id: string, o: { wait?: boolean }, cmd: Command) => {
        const opts = g(cmd);
        const task = await call(opts, client(opts).GET('/v1/tasks/{id}', { params: { path: { id } } }));
        if (o.wait) return waitAndReport(opts, task);
        printTask(opts, task);
      }),
    );

  program
    .command('ls')
    .description('list tasks, newest first')
    .addOption(
      new Option('--state <state>', `only tasks in this state (repeatable): ${STATES.join(', ')}`)
        .argParser(collectState)
        .default([]),
    )
    .option('--kind <kind>', 'only tasks of this kind')
    .option('--queue <name>', 'only tasks of this queue')
    .option('--limit <n>', 'at most this many (1-500)', integer(1, 500))
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .action(
      run(
        async (
          o: { state: TaskState[]; kind?: string; queue?: string; limit?: number; cursor?: string },
          cmd,
        ) => {
          const opts = g(cmd as Command);
          const query = {
            ...(o.state.length > 0 && { state: o.state }),
            ...(o.kind !== undefined && { kind: o.kind }),
            ...(o.queue !== undefined && { queue: o.queue }),
            ...(o.limit !== undefined && { limit: o.limit }),
            ...(o.cursor !== undefined && { cursor: o.cursor }),
          };
          const page = await call(opts, client(opts).GET('/v1/tasks', { params: { query } }));
          if (opts.json) return printJson(page);
          write(
            table(
              ['ID', 'KIND', 'QUEUE', 'STATE', 'ATTEMPT', 'CREATED'],
              page.tasks.map((t) => [
                t.id,
                t.kind,
                t.queue,
                t.state,
                `${t.attempt}/${t.max_attempts}`,
                t.created_at,
              ]),
            ),
          );
          if (page.next_cursor) write(`next page: --cursor ${page.next_cursor}\n`);
        },
      ),
    );

  program
    .command('cancel <id>')
    .description('cancel a task that has not ended')
    .action(
      run(async (id: string, _o, cmd: Command) => {
        const opts = g(cmd);
        printTask(
          opts,
          await call(opts, client(opts).POST('/v1/tasks/{id}/cancel', { params: { path: { id } } })),
        );
      }),
    );

  program
    .command('retry <id>')
    .description('queue a failed or cancelled task again')
    .action(
      run(async (id: string, _o, cmd: Command) => {
        const opts = g(cmd);
        printTask(
          opts,
          await call(opts, client(opts).POST('/v1/tasks/{id}/retry', { params: { path: { id } } })),
        );
      }),
    );

  const queues = program
    .command('queues')
    .description('list queues; pause, resume or limit one')
    .action(
      run(async (_o, cmd: Command) => {
        const opts = g(cmd);
        printQueues(opts, (await call(opts, client(opts).GET('/v1/queues'))).queues);
      }),
    );
  const patchQueue = async (
    cmd: Command,
    name: string,
    body: { paused?: boolean; concurrency?: number | null },
  ) => {
    const opts = g(cmd);
    const queue = await call(
      opts,
      client(opts).PATCH('/v1/queues/{name}', { params: { path: { name } }, body }),
    );
    printQueues(opts, [queue]);
  };
  queues
    .command('pause <name>')
    .description('stop claiming tasks of the queue, on every instance')
    .action(run(async (name: string, _o, cmd: Command) => patchQueue(cmd, name, { paused: true })));
  queues
    .command('resume <name>')
    .description('claim tasks of the queue again')
    .action(run(async (name: string, _o, cmd: Command) => patchQueue(cmd, name, { paused: false })));
  queues
    .command('concurrency <name> <limit>')
    .description(
      'run at most <limit> tasks of the queue at once across all instances; `none` lifts the limit',
    )
    .action(
      run(async (name: string, limit: string, _o, cmd: Command) => {
        const concurrency = limit === 'none' ? null : parseLimit(limit);
        await patchQueue(cmd, name, { concurrency });
      }),
    );

  const schedules = program
    .command('schedules')
    .description('list cron schedules; set or remove one')
    .action(run(async (_o, cmd: Command) => listSchedules(cmd)));
  const listSchedules = async (cmd: Command) => {
    const opts = g(cmd);
    printSchedules(opts, (await call(opts, client(opts).GET('/v1/schedules'))).schedules);
  };
  schedules
    .command('ls')
    .description('list cron schedules')
    .action(run(async (_o, cmd: Command) => listSchedules(cmd)));
  schedules
    .command('set <name>')
    .description('create or replace a schedule: a task of <kind> at every tick of <cron>')
    .requiredOption('--cron <expression>', '5 fields, or 6 with a leading seconds field')
    .requiredOption('--kind <kind>', 'the kind of each tick’s task')
    .option('--input <json>', 'the input of each tick’s task, as JSON', json)
    .option('--timezone <tz>', 'IANA time zone the cron is read in', 'UTC')
    .option('--queue <name>', 'the queue of each tick’s task')
    .option('--priority <n>', 'the priority of each tick’s task', integer(-1_000_000, 1_000_000))
    .option('--max-attempts <n>', 'runs allowed to each tick’s task', integer(1, 1000))
    .option('--paused', 'set it paused (no ticks until set again without --paused)')
    .action(
      run(async (name: string, o: Record<string, unknown>, cmd: Command) => {
        const opts = g(cmd);
        const task = {
          kind: o.kind as string,
          ...(o.input !== undefined && { input: o.input }),
          ...(o.queue !== undefined && { queue: o.queue as string }),
          ...(o.priority !== undefined && { priority: o.priority as number }),
          ...(o.maxAttempts !== undefined && { max_attempts: o.maxAttempts as number }),
        };
        const body = {
          cron: o.cron as string,
          timezone: o.timezone as string,
          task,
          paused: o.paused === true,
        };
        const schedule = await call(
          opts,
          client(opts).PUT('/v1/schedules/{name}', { params: { path: { name } }, body }),
        );
        if (opts.json) return printJson(schedule);
        printSchedules(opts, [schedule]);
        write(`next runs: ${schedule.next_runs.join(', ') || '-'}\n`);
      }),
    );
  schedules
    .command('rm <name>')
    .description('remove a schedule (the tasks it created stay)')
    .action(
      run(async (name: string, _o, cmd: Command) => {
        const opts = g(cmd);
        const schedule = await call(
          opts,
          client(opts).DELETE('/v1/schedules/{name}', { params: { path: { name } } }),
        );
        if (opts.json) return printJson(schedule);
        write(`removed schedule ${schedule.name}\n`);
      }),
    );

  program
    .command('health')
    .description("show the database's health checks (GET /v1/health)")
    .action(run(async (_o, cmd: Command) => health(g(cmd))));

  return program;
}

function parseLimit(value: string): number {
  try {
    return integer(0, 1_000_000)(value);
  } catch {
    throw new CliError('concurrency: <limit> must be an integer from 0 to 1000000, or none', EXIT.USAGE);
  }
}

/** GET /v1/health: the overall status, then every check with its subject, value, threshold and status. */
async function health(opts: GlobalOptions): Promise<number> {
  const report = await call(opts, client(opts).GET('/v1/health'));
  if (opts.json) {
    printJson(report);
    return EXIT.OK;
  }
  write(fields([['status', report.status]]));
  // What warns first, then by check and subject.
  const checks = [...report.checks].sort(
    (a, b) =>
      Number(b.status === 'warn') - Number(a.status === 'warn') ||
      a.name.localeCompare(b.name) ||
      (a.subject ?? '').localeCompare(b.subject ?? ''),
  );
  write(
    table(
      ['CHECK', 'SUBJECT', 'STATUS', 'VALUE', 'THRESHOLD'],
      checks.map((c) => [
        c.name,
        c.subject ?? '-',
        c.status,
        c.value === null ? '-' : `${inline(c.value)} ${c.unit}`,
        `${inline(c.threshold)} ${c.unit}`,
      ]),
    ),
  );
  return EXIT.OK;
}

async function main(): Promise<void> {
  const exit = (code: number) => {
    process.exitCode = code;
  };
  const program = buildProgram(exit);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are answers, not errors; every other complaint of the parser is a usage error.
      const answered =
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.help' ||
        err.code === 'commander.version';
      process.exitCode = answered ? EXIT.OK : EXIT.USAGE;
      return;
    }
    if (err instanceof CliError) {
      console.error(`taskd: ${err.message}`);
      process.exitCode = err.exitCode;
      return;
    }
    console.error(`taskd: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = EXIT.UNAVAILABLE;
  }
}

await main();
