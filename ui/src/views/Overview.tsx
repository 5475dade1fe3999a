import { optionalCall, TASK_STATES, unwrap, type Stats } from '../api.js';
import { ms } from '../format.js';
import { useApiQuery } from '../hooks.js';
import { ThroughputChart } from './ThroughputChart.js';

/** The overview: queues and their counts, the last hour's throughput and latency, workers, database health. */
export function Overview() {
  const queues = useApiQuery(['queues'], async (c) => unwrap(await c.GET('/v1/queues')).queues);
  const stats = useApiQuery(['stats'], async (c) =>
    unwrap(await c.GET('/v1/stats', { params: { query: { window: 3600 } } })),
  );
  const workers = useApiQuery(['workers'], async (c) => unwrap(await c.GET('/v1/workers')).workers);

  return (
    <div className="grid">
      <section className="card wide">
        <h2>Queues</h2>
        {queues.error && <p className="error">{queues.error.message}</p>}
        {queues.data && (
          <table data-testid="overview-queues">
            <thead>
              <tr>
                <th>queue</th>
                {TASK_STATES.map((s) => (
                  <th key={s} className="num">
                    {s}
                  </th>
                ))}
                <th>status</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.length === 0 && (
                <tr>
                  <td colSpan={TASK_STATES.length + 2} className="muted">
                    No queue has tasks yet.
                  </td>
                </tr>
              )}
              {queues.data.map((q) => (
                <tr key={q.name} data-queue={q.name}>
                  <td>
                    <a href={`#/tasks?queue=${encodeURIComponent(q.name)}`}>{q.name}</a>
                  </td>
                  {TASK_STATES.map((s) => (
                    <td key={s} className={`num state-${s}`} data-state={s}>
                      {q.counts[s] ?? 0}
                    </td>
                  ))}
                  <td>{q.paused ? <span className="badge warn">paused</span> : 'active'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card wide">
        <h2>Last hour</h2>
        {stats.error && <p className="error">{stats.error.message}</p>}
        {stats.data && <StatsPanel stats={stats.data} />}
      </section>

      <section className="card">
        <h2>Workers</h2>
        {workers.data && (
          <p data-testid="overview-workers">
            <a href="#/workers">
              <strong>{workers.data.length}</strong> live worker{workers.data.length === 1 ? '' : 's'}
            </a>
            , running <strong>{workers.data.reduce((n, w) => n + w.running, 0)}</strong> tasks
          </p>
        )}
      </section>

      <section className="card">
        <h2>Database</h2>
        <Health />
      </section>
    </div>
  );
}

function StatsPanel({ stats }: { stats: Stats }) {
  const t = stats.totals;
  return (
    <>
      <dl className="figures" data-testid="stats-totals">
        <div>
          <dt>completed</dt>
          <dd>{t.completed}</dd>
        </div>
        <div>
          <dt>failed</dt>
          <dd>{t.failed}</dd>
        </div>
        <div>
          <dt>cancelled</dt>
          <dd>{t.cancelled}</dd>
        </div>
        <div>
          <dt>pickup p50 / p95</dt>
          <dd>
            {ms(t.pickup_ms.p50)} / {ms(t.pickup_ms.p95)}
          </dd>
        </div>
        <div>
          <dt>run p50 / p95</dt>
          <dd>
            {ms(t.run_ms.p50)} / {ms(t.run_ms.p95)}
          </dd>
        </div>
      </dl>
      <ThroughputChart stats={stats} />
    </>
  );
}

interface HealthCheck {
  ok?: boolean;
  status?: string;
  value?: unknown;
  threshold?: unknown;
}

/** GET /v1/health, where the instance has it: each check with its value, threshold and ok/warn. */
function Health() {
  const health = useApiQuery(['health'], (_c, token) =>
    optionalCall<Record<string, unknown>>(token, '/v1/health', '/v1/health'),
  );
  if (health.isPending) return <p className="muted">…</p>;
  if (health.error) return <p className="error">{health.error.message}</p>;
  if (!health.data) {
    return (
      <p className="muted" data-testid="health-unavailable">
        Not available on this instance.
      </p>
    );
  }
  const checks = Object.entries(
    (health.data.checks as Record<string, HealthCheck> | undefined) ?? health.data,
  ).filter(([, v]) => typeof v === 'object' && v !== null) as [string, HealthCheck][];
  return (
    <table data-testid="health">
      <tbody>
        {checks.map(([name, c]) => {
          const status = c.status ?? (c.ok === false ? 'warn' : 'ok');
          return (
            <tr key={name}>
              <td>{name.replaceAll('_', ' ')}</td>
              <td className="num">{formatValue(c.value)}</td>
              <td className="muted num">
                {c.threshold === undefined ? '' : `≤ ${formatValue(c.threshold)}`}
              </td>
              <td>
                <span className={`badge ${status === 'ok' ? 'ok' : 'warn'}`}>{status}</span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
