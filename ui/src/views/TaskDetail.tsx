import { ApiFailure, optionalCall, unwrap } from '../api.js';
import { ago, json } from '../format.js';
import { useApiAction, useApiQuery } from '../hooks.js';

interface Delivery {
  webhook_id?: string;
  attempt?: number;
  status?: string;
  response_status?: number | null;
  error?: string | null;
  next_attempt_at?: string | null;
}

/** One task: its fields, progress, runs, webhook deliveries (where the instance has them), cancel and retry. */
export function TaskDetail({ id }: { id: string }) {
  const task = useApiQuery(['task', id], async (c) =>
    unwrap(await c.GET('/v1/tasks/{id}', { params: { path: { id } } })),
  );
  const attempts = useApiQuery(
    ['attempts', id],
    async (c) => unwrap(await c.GET('/v1/tasks/{id}/attempts', { params: { path: { id } } })).attempts,
  );
  const deliveries = useApiQuery(['deliveries', id], (_c, token) =>
    optionalCall<{ deliveries: Delivery[] }>(
      token,
      '/v1/tasks/{id}/deliveries',
      `/v1/tasks/${id}/deliveries`,
    ),
  );
  const cancel = useApiAction(async (c) =>
    unwrap(await c.POST('/v1/tasks/{id}/cancel', { params: { path: { id } } })),
  );
  const retry = useApiAction(async (c) =>
    unwrap(await c.POST('/v1/tasks/{id}/retry', { params: { path: { id } } })),
  );

  if (task.isPending) return <p className="muted">Loading…</p>;
  if (task.error) {
    const missing = task.error instanceof ApiFailure && task.error.status === 404;
    return <p className="error">{missing ? `No task has the id ${id}.` : task.error.message}</p>;
  }
  const t = task.data;
  const unfinished = ['scheduled', 'queued', 'running'].includes(t.state);
  const retryable = t.state === 'failed' || t.state === 'cancelled';
  const actionError = cancel.error ?? retry.error;

  return (
    <div className="grid">
      <section className="card wide" data-testid="task-detail">
        <h2>
          Task <span className="mono">{t.id}</span>{' '}
          <span className={`badge state-${t.state}`} data-testid="task-state">
            {t.state}
          </span>
        </h2>
        <div className="toolbar">
          <button
            disabled={!unfinished || cancel.isPending}
            onClick={() => cancel.mutate(undefined)}
            data-testid="cancel"
          >
            Cancel
          </button>
          <button
            disabled={!retryable || retry.isPending}
            onClick={() => retry.mutate(undefined)}
            data-testid="retry"
          >
            Retry
          </button>
          {actionError && <span className="error">{actionError.message}</span>}
        </div>
        <dl className="fields">
          <dt>kind</dt>
          <dd>{t.kind}</dd>
          <dt>queue</dt>
          <dd>
            <a href={`#/tasks?queue=${encodeURIComponent(t.queue)}`}>{t.queue}</a>
          </dd>
          <dt>priority</dt>
          <dd>{t.priority}</dd>
          <dt>attempt</dt>
          <dd>
            {t.attempt} (at most {t.max_attempts} per retry)
          </dd>
          <dt>timeout</dt>
          <dd>{t.timeout_ms} ms</dd>
          <dt>created</dt>
          <dd title={t.created_at}>{ago(t.created_at)}</dd>
          <dt>run at</dt>
          <dd title={t.run_at}>{ago(t.run_at)}</dd>
          <dt>started</dt>
          <dd title={t.started_at ?? ''}>{ago(t.started_at)}</dd>
          <dt>finished</dt>
          <dd title={t.finished_at ?? ''}>{ago(t.finished_at)}</dd>
          {t.idempotency_key && (
            <>
              <dt>idempotency key</dt>
              <dd className="mono">{t.idempotency_key}</dd>
            </>
          )}
          {t.callback_url && (
            <>
              <dt>callback</dt>
              <dd className="mono">{t.callback_url}</dd>
            </>
          )}
        </dl>
        {t.progress && (
          <div className="progress" data-testid="progress">
            <progress max={100} value={t.progress.percent ?? undefined} />
            <span>
              {t.progress.percent === null ? '' : `${Math.round(t.progress.percent)}% `}
              {t.progress.message ?? ''}
            </span>
          </div>
        )}
        <h3>Input</h3>
        <pre data-testid="task-input">{json(t.input)}</pre>
        {t.result !== null && (
          <>
            <h3>Result</h3>
            <pre data-testid="task-result">{json(t.result)}</pre>
          </>
        )}
        {t.error && (
          <>
            <h3>Error</h3>
            <pre className="error" data-testid="task-error">
              {t.error.type}: {t.error.message}
            </pre>
          </>
        )}
      </section>

      <section className="card">
        <h2>Attempts</h2>
        {attempts.data && attempts.data.length === 0 && <p className="muted">Not run yet.</p>}
        <ol className="timeline" data-testid="attempts">
          {attempts.data?.map((a, i) => (
            <li key={i} className={`outcome-${a.outcome}`}>
              <strong>#{a.attempt}</strong> <span className="badge">{a.outcome}</span>{' '}
              <span title={a.started_at ?? ''}>{ago(a.started_at)}</span>
              {a.worker_id && <span className="muted mono"> on {a.worker_id.slice(0, 8)}</span>}
              {a.error && (
                <div className="error">
                  {a.error.type}: {a.error.message}
                </div>
              )}
            </li>
          ))}
        </ol>
      </section>

      <section className="card">
        <h2>Webhook deliveries</h2>
        {deliveries.isSuccess && !deliveries.data && (
          <p className="muted" data-testid="deliveries-unavailable">
            Not available on this instance.
          </p>
        )}
        {deliveries.data && deliveries.data.deliveries.length === 0 && <p className="muted">None.</p>}
        {deliveries.data && deliveries.data.deliveries.length > 0 && (
          <table>
            <tbody>
              {deliveries.data.deliveries.map((d, i) => (
                <tr key={i}>
                  <td>#{d.attempt}</td>
                  <td>{d.status}</td>
                  <td>{d.response_status ?? ''}</td>
                  <td className="error">{d.error ?? ''}</td>
                  <td>{d.next_attempt_at ? ago(d.next_attempt_at) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
