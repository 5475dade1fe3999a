import { useState, type FormEvent } from 'react';
import { TASK_STATES, unwrap, type BulkBody, type TaskState } from '../api.js';
import { ago, shortId } from '../format.js';
import { useApiAction, useApiQuery } from '../hooks.js';
import { navigate } from '../route.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 20;

/** Tasks, newest first: filters in the URL, keyset pages through next_cursor, search by id, bulk actions. */
export function TaskList({ query }: { query: URLSearchParams }) {
  const state = (query.get('state') ?? undefined) as TaskState | undefined;
  const kind = query.get('kind') ?? undefined;
  const queue = query.get('queue') ?? undefined;
  const cursor = query.get('cursor') ?? undefined;
  const filter = { state, kind, queue };
  const [search, setSearch] = useState('');
  const [searchError, setSearchError] = useState('');
  const [confirm, setConfirm] = useState<{ action: 'retry' | 'cancel'; count: number } | undefined>();
  const [done, setDone] = useState('');

  const page = useApiQuery(['tasks', state, kind, queue, cursor], async (c) =>
    unwrap(
      await c.GET('/v1/tasks', {
        params: { query: { state: state ? [state] : undefined, kind, queue, cursor, limit: PAGE } },
      }),
    ),
  );

  const bulkBody = (action: 'retry' | 'cancel', dryRun: boolean): BulkBody => ({
    action,
    filter: { ...(state && { state: [state] }), ...(kind && { kind }), ...(queue && { queue }) },
    limit: 1000,
    dry_run: dryRun,
  });
  const count = useApiAction(async (c, action: 'retry' | 'cancel') =>
    unwrap(await c.POST('/v1/tasks/bulk', { body: bulkBody(action, true) })),
  );
  const bulk = useApiAction(async (c, action: 'retry' | 'cancel') =>
    unwrap(await c.POST('/v1/tasks/bulk', { body: bulkBody(action, false) })),
  );

  const setFilter = (change: Record<string, string | undefined>) =>
    navigate('/tasks', { ...filter, ...change, cursor: undefined });

  const onSearch = (e: FormEvent) => {
    e.preventDefault();
    const id = search.trim();
    if (UUID.test(id)) navigate(`/tasks/${id.toLowerCase()}`);
    else setSearchError('Not a task id (a UUID).');
  };

  const askBulk = (action: 'retry' | 'cancel') => {
    setDone('');
    count.mutate(action, { onSuccess: (r) => setConfirm({ action, count: r.count }) });
  };

  return (
    <section className="card">
      <h2>Tasks</h2>
      <div className="toolbar">
        <label>
          state{' '}
          <select
            name="state"
            value={state ?? ''}
            onChange={(e) => setFilter({ state: e.target.value || undefined })}
          >
            <option value="">any</option>
            {TASK_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <FilterInput name="kind" value={kind} onChange={(v) => setFilter({ kind: v })} />
        <FilterInput name="queue" value={queue} onChange={(v) => setFilter({ queue: v })} />
        <form onSubmit={onSearch} className="search">
          <input
            name="search"
            placeholder="task id"
            aria-label="Search by task id"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setSearchError('');
            }}
          />
          <button type="submit">Find</button>
          {searchError && <span className="error">{searchError}</span>}
        </form>
        <span className="spacer" />
        <button onClick={() => askBulk('retry')} data-testid="bulk-retry">
          Retry matching…
        </button>
        <button onClick={() => askBulk('cancel')} data-testid="bulk-cancel">
          Cancel matching…
        </button>
      </div>
      {done && (
        <p className="notice" data-testid="bulk-done">
          {done}
        </p>
      )}
      {(count.error ?? bulk.error) && <p className="error">{(count.error ?? bulk.error)!.message}</p>}
      {confirm && (
        <dialog open className="confirm" data-testid="bulk-confirm">
          <p>
            {confirm.count === 0
              ? `No task matching this filter can be ${confirm.action === 'retry' ? 'retried' : 'cancelled'}.`
              : `${confirm.action === 'retry' ? 'Retry' : 'Cancel'} ${confirm.count} task${confirm.count === 1 ? '' : 's'}${confirm.count >= 1000 ? ' (the most one action takes)' : ''}?`}
          </p>
          <div className="actions">
            <button onClick={() => setConfirm(undefined)}>Back</button>
            {confirm.count > 0 && (
              <button
                className="primary"
                data-testid="bulk-confirm-yes"
                onClick={() => {
                  const { action } = confirm;
                  setConfirm(undefined);
                  bulk.mutate(action, {
                    onSuccess: (r) =>
                      setDone(
                        `${r.count} task${r.count === 1 ? '' : 's'} ${action === 'retry' ? 'retried' : 'cancelled'}.`,
                      ),
                  });
                }}
              >
                {confirm.action === 'retry' ? 'Retry' : 'Cancel'} {confirm.count}
              </button>
            )}
          </div>
        </dialog>
      )}
      {page.error && <p className="error">{page.error.message}</p>}
      {page.data && (
        <>
          <table data-testid="task-table">
            <thead>
              <tr>
                <th>id</th>
                <th>kind</th>
                <th>queue</th>
                <th>state</th>
                <th className="num">attempt</th>
                <th>created</th>
                <th>finished</th>
              </tr>
            </thead>
            <tbody>
              {page.data.tasks.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted">
                    No task matches.
                  </td>
                </tr>
              )}
              {page.data.tasks.map((t) => (
                <tr key={t.id} data-task={t.id}>
                  <td>
                    <a href={`#/tasks/${t.id}`} className="mono">
                      {shortId(t.id)}
                    </a>
                  </td>
                  <td>{t.kind}</td>
                  <td>{t.queue}</td>
                  <td>
                    <span className={`badge state-${t.state}`}>{t.state}</span>
                  </td>
                  <td className="num">
                    {t.attempt}/{t.max_attempts}
                  </td>
                  <td title={t.created_at}>{ago(t.created_at)}</td>
                  <td title={t.finished_at ?? ''}>{ago(t.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            {cursor && (
              <button onClick={() => window.history.back()} data-testid="prev-page">
                ← Previous
              </button>
            )}
            {page.data.next_cursor && (
              <button
                data-testid="next-page"
                onClick={() => navigate('/tasks', { ...filter, cursor: page.data.next_cursor ?? undefined })}
              >
                Next →
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

function FilterInput(props: {
  name: string;
  value: string | undefined;
  onChange: (v: string | undefined) => void;
}) {
  const [text, setText] = useState(props.value ?? '');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        props.onChange(text.trim() || undefined);
      }}
    >
      <label>
        {props.name}{' '}
        <input
          name={props.name}
          value={text}
          placeholder="any"
          onChange={(e) => setText(e.target.value)}
          onBlur={() => text.trim() !== (props.value ?? '') && props.onChange(text.trim() || undefined)}
        />
      </label>
    </form>
  );
}
