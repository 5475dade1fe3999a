// Preloaded into a benchmarked process with `node --import`: writes its memory use to stderr as one JSON line
// every BENCH_MEMPROBE_MS, so the benchmark can read heap sizes without touching the code under test.
/* global setInterval */
const every = Number(process.env.BENCH_MEMPROBE_MS ?? '1000');
const timer = setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(
    `${JSON.stringify({ memprobe: { t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external } })}\n`,
  );
}, every);
timer.unref();
