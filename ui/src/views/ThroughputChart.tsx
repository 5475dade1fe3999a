import type { Stats } from '../api.js';
import { ms } from '../format.js';

const W = 720;
const H = 160;
const PAD = { left: 36, right: 48, top: 10, bottom: 20 };

/**
 * Tasks finished per bucket (bars: completed, failed and cancelled stacked) and the p95 run time (line, right
 * axis), over the window. Plain SVG: one chart does not need a charting library.
 */
export function ThroughputChart({ stats }: { stats: Stats }) {
  const bucketMs = stats.bucket_s * 1000;
  const end = Math.floor(Date.now() / bucketMs) * bucketMs;
  const slots = Math.round(stats.window_s / stats.bucket_s);
  const start = end - (slots - 1) * bucketMs;
  const byStart = new Map(
    stats.buckets.map((b) => [Math.floor(Date.parse(b.start) / bucketMs) * bucketMs, b]),
  );
  const series = Array.from({ length: slots }, (_, i) => byStart.get(start + i * bucketMs));
  const maxCount = Math.max(1, ...series.map((b) => (b ? b.completed + b.failed + b.cancelled : 0)));
  const maxLatency = Math.max(1, ...series.map((b) => b?.run_ms.p95 ?? 0));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const slotW = innerW / slots;
  const y = (n: number) => PAD.top + innerH - (n / maxCount) * innerH;
  const yLat = (v: number) => PAD.top + innerH - (v / maxLatency) * innerH;

  const line = series
    .map((b, i) => (b?.run_ms.p95 == null ? null : `${PAD.left + (i + 0.5) * slotW},${yLat(b.run_ms.p95)}`))
    .filter((p): p is string => p !== null)
    .join(' ');

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Tasks finished per minute over the last hour">
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} className="axis" />
        <text x={PAD.left - 4} y={y(maxCount) + 4} className="tick" textAnchor="end">
          {maxCount}
        </text>
        <text x={PAD.left - 4} y={y(0)} className="tick" textAnchor="end">
          0
        </text>
        <text x={W - PAD.right + 4} y={yLat(maxLatency) + 4} className="tick">
          {ms(maxLatency)}
        </text>
        {series.map((b, i) => {
          if (!b) return null;
          const x = PAD.left + i * slotW + 1;
          const w = Math.max(1, slotW - 2);
          let top = y(0);
          return (['completed', 'failed', 'cancelled'] as const).map((k) => {
            const h = (b[k] / maxCount) * innerH;
            top -= h;
            return h > 0 ? (
              <rect key={`${i}-${k}`} x={x} y={top} width={w} height={h} className={`bar ${k}`}>
                <title>{`${new Date(b.start).toLocaleTimeString()}: ${b[k]} ${k}`}</title>
              </rect>
            ) : null;
          });
        })}
        {line && <polyline points={line} className="latency" />}
        <text x={PAD.left} y={H - 4} className="tick">
          −{Math.round(stats.window_s / 60)} min
        </text>
        <text x={W - PAD.right} y={H - 4} className="tick" textAnchor="end">
          now
        </text>
      </svg>
      <figcaption>
        <span className="key completed" /> completed <span className="key failed" /> failed{' '}
        <span className="key cancelled" /> cancelled per {stats.bucket_s / 60} min ·{' '}
        <span className="key latency" /> p95 run time
      </figcaption>
    </figure>
  );
}
