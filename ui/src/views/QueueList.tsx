import { useState } from 'react';
import { unwrap, type Queue } from '../api.js';
import { ms } from '../format.js';
import { useApiAction, useApiQuery } from '../hooks.js';

/** Queues: pause, resume, and a concurrency limit across all instances (PATCH /v1/queues/{name}). */
export function QueueList() {
  const queues = useApiQuery(['queues'], async (c) => unwrap(await c.GET('/v1/queues')).queues);
  return (
    <section className="card">
      <h2>Queues</h2>
      {queues.error && <p className="error">{queues.error.message}</p>}
      <table data-testid="queue-table">
        <thead>
          <tr>
            <th>queue</th>
            <th className="num">queued</th>
            <th className="num">running</th>
            <th className="num">oldest queued</th>
            <th>status</th>
            <th>concurrency</th>
          </tr>
        </thead>
        <tbody>
          {queues.data?.map((q) => (
            <QueueRow key={q.name} queue={q} />
          ))}
        </tbody>
      </table>
    </section>
  );
}

function QueueRow({ queue: q }: { queue: Queue }) {
  const [limit, setLimit] = useState(q.concurrency === null ? '' : String(q.concurrency));
  const patch = useApiAction(async (c, body: { paused?: boolean; concurrency?: number | null }) =>
    unwrap(await c.PATCH('/v1/queues/{name}', { params: { path: { name: q.name } }, body })),
  );
  const valid = limit.trim() === '' || /^\d+$/.test(limit.trim());
  return (
    <tr data-queue={q.name}>
      <td>{q.name}</td>
      <td className="num">{q.counts.queued ?? 0}</td>
      <td className="num">{q.counts.running ?? 0}</td>
      <td className="num">{ms(q.oldest_queued_age_ms)}</td>
      <td>
        {q.paused ? <span className="badge warn">paused</span> : 'active'}{' '}
        <button
          data-testid="toggle-pause"
          disabled={patch.isPending}
          onClick={() => patch.mutate({ paused: !q.paused })}
        >
          {q.paused ? 'Resume' : 'Pause'}
        </button>
      </td>
      <td>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) patch.mutate({ concurrency: limit.trim() === '' ? null : Number(limit.trim()) });
          }}
        >
          <input
            name="concurrency"
            aria-label={`Concurrency of ${q.name}`}
            placeholder="unlimited"
            size={8}
            value={limit}
            onChange={(e) => setLimit(e.target.value)}
          />{' '}
          <button type="submit" disabled={!valid || patch.isPending}>
            Set
          </button>{' '}
          <span data-testid="concurrency">{q.concurrency === null ? 'unlimited' : q.concurrency}</span>
          {patch.error && <span className="error"> {patch.error.message}</span>}
        </form>
      </td>
    </tr>
  );
}
