import { unwrap } from '../api.js';
import { ago } from '../format.js';
import { useApiQuery } from '../hooks.js';

/** The worker processes sharing the database (GET /v1/workers). */
export function WorkerList() {
  const workers = useApiQuery(['workers'], async (c) => unwrap(await c.GET('/v1/workers')).workers);
  return (
    <section className="card">
      <h2>Workers</h2>
      {workers.error && <p className="error">{workers.error.message}</p>}
      <table data-testid="worker-table">
        <thead>
          <tr>
            <th>id</th>
            <th>host</th>
            <th className="num">pid</th>
            <th className="num">running / concurrency</th>
            <th>started</th>
            <th>last heartbeat</th>
            <th>role</th>
          </tr>
        </thead>
        <tbody>
          {workers.data?.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                No worker is registered.
              </td>
            </tr>
          )}
          {workers.data?.map((w) => (
            <tr key={w.id}>
              <td className="mono" title={w.id}>
                {w.id.slice(0, 8)}
              </td>
              <td>{w.host}</td>
              <td className="num">{w.pid}</td>
              <td className="num">
                {w.running} / {w.concurrency ?? '—'}
              </td>
              <td title={w.started_at}>{ago(w.started_at)}</td>
              <td title={w.last_heartbeat_at}>{ago(w.last_heartbeat_at)}</td>
              <td>{w.leader ? <span className="badge ok">leader</span> : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
