/* global setInterval */
// Loaded into a taskd process with NODE_OPTIONS=--import: every second, one JSON line with the V8 heap in use,
// among the process's own log lines. The timer never keeps the process alive.
const MiB = 1024 * 1024;
setInterval(() => {
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ level: 0, msg: 'heap probe', time: Date.now(), heap_used_mib: m.heapUsed / MiB, rss_mib: m.rss / MiB })}\n`,
  );
}, 1000).unref();
