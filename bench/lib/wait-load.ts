/**
 * A load generator of the waiting benchmark, in a process of its own so that thousands of sockets do not load
 * the bench's event loop: `tsx bench/lib/wait-load.ts`, driven over its IPC channel. Given task ids, it holds one
 * long-poll (`GET /v1/tasks/{id}?wait=S`) or one event stream (`GET /v1/tasks/{id}/events`) per id, each on a
 * connection of its own, and notes for each the time from the task's `finished_at` to the answer that says so.
 *
 * Messages in: `{start: WaitLoadJob}`, then `{report: true}`. Out: `{sent}` once every request is out,
 * `{streaming}` once every stream has had its first event, `{done}` once every waiter has its answer, and
 * `{report: WaitLoadReport}`.
 */
import http from 'node:http';

export interface WaitLoadJob {
  url: string;
  polls: string[];
  streams: string[];
  waitS: number;
}

export interface WaitLoadReport {
  /** ms from finished_at to the answer, per long-poll and per stream that saw its task end. */
  pollLatenciesMs: number[];
  streamLatenciesMs: number[];
  /** Long-polls answered before their task ended (their wait ran out), streams that ended without it, errors. */
  notTerminal: number;
  errors: number;
  firstError?: string;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** Requests opened per turn, and the pause between turns, so that the listen backlog never overflows. */
const OPEN_BATCH = 100;
const OPEN_PAUSE_MS = 25;

const now = () => performance.timeOrigin + performance.now();

/** finished_at (RFC 3339 with microseconds) in ms since the epoch, keeping the microseconds. */
function epochMs(iso: string): number {
  // Date.parse keeps whole milliseconds; the digits after the third are the rest.
  const fraction = /\.(\d+)Z$/.exec(iso)?.[1] ?? '';
  return Date.parse(iso) + (fraction.length > 3 ? Number(`0.${fraction.slice(3)}`) : 0);
}

function run(job: WaitLoadJob): void {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const report: WaitLoadReport = { pollLatenciesMs: [], streamLatenciesMs: [], notTerminal: 0, errors: 0 };
  const total = job.polls.length + job.streams.length;
  let answered = 0;
  let firstEvents = 0;
  const fail = (err: unknown) => {
    report.errors++;
    report.firstError ??= err instanceof Error ? err.message : String(err);
    settle();
  };
  const settle = () => {
    if (++answered === total) process.send!({ done: true });
  };
  const streamed = () => {
    if (++firstEvents === job.streams.length) process.send!({ streaming: true });
  };

  const poll = (id: string) => {
    const req = http.get(`${job.url}/v1/tasks/${id}?wait=${job.waitS}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const at = now();
        try {
          const task = JSON.parse(body) as { state: string; finished_at: string | null };
          if (res.statusCode === 200 && TERMINAL.has(task.state) && task.finished_at)
            report.pollLatenciesMs.push(at - epochMs(task.finished_at));
          else report.notTerminal++;
          settle();
        } catch (err) {
          fail(err);
        }
      });
      res.on('error', fail);
    });
    req.on('error', fail);
  };

  const stream = (id: string) => {
    let first = true;
    let ended = false;
    const req = http.get(`${job.url}/v1/tasks/${id}/events`, { agent }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        const at = now();
        buffer += c;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = message
            .split('\n')
            .find((l) => l.startsWith('data: '))
            ?.slice(6);
          if (!data) continue;
          if (first) {
            first = false;
            streamed();
          }
          const task = JSON.parse(data) as { state: string; finished_at: string | null };
          if (!ended && TERMINAL.has(task.state) && task.finished_at) {
            ended = true;
            report.streamLatenciesMs.push(at - epochMs(task.finished_at));
            settle();
          }
        }
      });
      res.on('end', () => {
        if (!ended) {
          ended = true;
          report.notTerminal++;
          settle();
        }
      });
      res.on('error', failStream);
    });
    // A stream that failed before its first event will not have one: it is counted as an error instead.
    const failStream = (err: unknown) => {
      if (first) {
        first = false;
        streamed();
      }
      if (!ended) {
        ended = true;
        fail(err);
      }
    };
    req.on('error', failStream);
  };

  // Long-polls first: the server reads waiters' tasks in the order their requests came, so once the streams (last)
  // have had their first event, the long-polls before them are waiting too.
  const all = [...job.polls.map((id) => () => poll(id)), ...job.streams.map((id) => () => stream(id))];
  let next = 0;
  const openSome = () => {
    for (let i = 0; i < OPEN_BATCH && next < all.length; i++) all[next++]!();
    if (next < all.length) setTimeout(openSome, OPEN_PAUSE_MS);
    else process.send!({ sent: true });
  };
  openSome();
  process.on('message', (m: { report?: boolean }) => {
    if (m.report) process.send!({ report });
  });
}

if (!process.send) throw new Error('run with an IPC channel');
process.once('message', (m: { start: WaitLoadJob }) => run(m.start));
process.on('disconnect', () => process.exit(0));
