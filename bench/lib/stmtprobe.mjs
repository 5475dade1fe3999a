// Preloaded into a benchmarked process with `node --import` (NODE_OPTIONS, so that `npm start` passes it on):
// counts the statements the process sends to PostgreSQL through node-postgres and writes the count to stderr as
// one JSON line every BENCH_STMTPROBE_MS, so the benchmark can report statements per task without touching the
// code under test. Statements are counted when sent; LISTEN's notifications cost none.
/* global setInterval */
import pg from 'pg';

let sent = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  sent++;
  return query.apply(this, args);
};
const every = Number(process.env.BENCH_STMTPROBE_MS ?? '250');
const timer = setInterval(() => {
  process.stderr.write(`${JSON.stringify({ stmtprobe: { t: Date.now(), sent } })}\n`);
}, every);
timer.unref();
