import { optionalCall } from '../api.js';
import { ago } from '../format.js';
import { useApiAction, useApiQuery } from '../hooks.js';
import { useSession } from '../session.js';

interface Schedule {
  name: string;
  cron: string;
  timezone?: string;
  task: unknown;
  paused?: boolean;
  next_run_at?: string | null;
  last_run_at?: string | null;
}

/** Cron schedules (GET /v1/schedules), where the instance has them: next runs, pause and resume (PUT). */
export function ScheduleList() {
  const { token } = useSession();
  const schedules = useApiQuery(['schedules'], (_c, t) =>
    optionalCall<{ schedules: Schedule[] }>(t, '/v1/schedules', '/v1/schedules'),
  );
  const toggle = useApiAction((_c, s: Schedule) =>
    optionalCall(token, '/v1/schedules/{name}', `/v1/schedules/${encodeURIComponent(s.name)}`, {
      method: 'PUT',
      body: JSON.stringify({ cron: s.cron, timezone: s.timezone, task: s.task, paused: !s.paused }),
    }),
  );
  return (
    <section className="card">
      <h2>Schedules</h2>
      {schedules.error && <p className="error">{schedules.error.message}</p>}
      {schedules.isSuccess && !schedules.data && (
        <p className="muted" data-testid="schedules-unavailable">
          Not available on this instance.
        </p>
      )}
      {schedules.data && (
        <table data-testid="schedule-table">
          <thead>
            <tr>
              <th>name</th>
              <th>cron</th>
              <th>timezone</th>
              <th>next run</th>
              <th>status</th>
            </tr>
          </thead>
          <tbody>
            {schedules.data.schedules.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No schedule.
                </td>
              </tr>
            )}
            {schedules.data.schedules.map((s) => (
              <tr key={s.name}>
                <td>{s.name}</td>
                <td className="mono">{s.cron}</td>
                <td>{s.timezone ?? 'UTC'}</td>
                <td title={s.next_run_at ?? ''}>{s.paused ? '—' : ago(s.next_run_at)}</td>
                <td>
                  {s.paused ? <span className="badge warn">paused</span> : 'active'}{' '}
                  <button disabled={toggle.isPending} onClick={() => toggle.mutate(s)}>
                    {s.paused ? 'Resume' : 'Pause'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {toggle.error && <p className="error">{toggle.error.message}</p>}
    </section>
  );
}
