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

/** One check of GET /v1/health: a measure of one subject (a table, the server) against its threshold. */
interface HealthCheck {
  name: string;
  subject?: string | null;
  value: unknown;
  unit?: string;
  threshold?: unknown;
  status: 'ok' | 'warn';
}

/** GET /v1/health, where the instance has it: each check with its value, threshold and ok/warn. */
function Health() {
  const health = useApiQuery(['health'], (_c, token) =>
    optionalCall<{ status: string; checks: HealthCheck[] }>(token, '/v1/health', '/v1/health'),
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
  // The checks that warn first, then by name and subject: what needs attention is on top.
  const checks = [...health.data.checks].sort(
    (a, b) =>
      Number(b.status === 'warn') - Number(a.status === 'warn') ||
      a.name.localeCompare(b.name) ||
      (a.subject ?? '').localeCompare(b.subject ?? ''),
  );
  return (
    <table data-testid="health">
      <tbody>
        {checks.map((c) => (
          <tr key={`${c.name}/${c.subject ?? ''}`}>
            <td>
              {c.name.replaceAll('_', ' ')}
              {c.subject ? <span className="muted"> · {c.subject}</span> : null}
            </td>
            <td className="num">
              {formatValue(c.value)}{' '}
              {c.unit && c.value !== null ? <span className="muted">{c.unit}</span> : null}
            </td>
            <td className="muted num">{c.threshold === undefined ? '' : `≤ ${formatValue(c.threshold)}`}</td>
            <td>
              <span className={`badge ${c.status === 'ok' ? 'ok' : 'warn'}`}>{c.status}</span>
            </td>
          </tr>
        ))}
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
