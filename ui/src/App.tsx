import { useCallback, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, tokenStore, Unauthorized, unwrap } from './api.js';
import { useLiveUpdates } from './live.js';
import { useRoute } from './route.js';
import { Session } from './session.js';
import { Overview } from './views/Overview.js';
import { TaskList } from './views/TaskList.js';
import { TaskDetail } from './views/TaskDetail.js';
import { QueueList } from './views/QueueList.js';
import { ScheduleList } from './views/ScheduleList.js';
import { WorkerList } from './views/WorkerList.js';

const VIEWS = [
  ['', 'Overview'],
  ['tasks', 'Tasks'],
  ['queues', 'Queues'],
  ['schedules', 'Schedules'],
  ['workers', 'Workers'],
] as const;

/**
 * The dashboard: a token gate, then the views. Whether a token is needed is learnt from the API itself: the
 * first call answers 401 when API_TOKENS is set. Nothing is shown until a call succeeded.
 */
export function App() {
  const queryClient = useQueryClient();
  const [token, setToken] = useState(tokenStore.get);
  const [refused, setRefused] = useState(false);

  const signOut = useCallback(() => {
    tokenStore.clear();
    setToken(undefined);
    queryClient.clear();
  }, [queryClient]);

  const probe = useQuery({
    queryKey: ['auth', token],
    queryFn: async () => unwrap(await apiClient(token).GET('/v1/kinds')),
    retry: false,
    staleTime: Infinity,
  });

  if (probe.isPending) return <p className="muted center">Loading…</p>;
  if (probe.error instanceof Unauthorized) {
    return (
      <TokenForm
        refused={refused || token !== undefined}
        onToken={(t) => {
          tokenStore.set(t);
          setRefused(true);
          setToken(t);
        }}
      />
    );
  }
  if (probe.error) return <p className="error center">The API does not answer: {probe.error.message}</p>;
  return (
    <Session.Provider value={{ token, client: apiClient(token), onUnauthorized: signOut }}>
      <Dashboard signedIn={token !== undefined} onSignOut={signOut} />
    </Session.Provider>
  );
}

function TokenForm({ refused, onToken }: { refused: boolean; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onToken(value.trim());
  };
  return (
    <form className="token-form" onSubmit={submit} data-testid="token-form">
      <h1>taskd</h1>
      <p>This instance needs an API token (one of API_TOKENS).</p>
      {refused && (
        <p className="error" data-testid="token-refused">
          That token was refused.
        </p>
      )}
      <input
        type="password"
        name="token"
        aria-label="API token"
        autoComplete="off"
        value={value}
        onChange={(e) => setValue(e.target.value)}
      />
      <button type="submit">Sign in</button>
    </form>
  );
}

function Dashboard({ signedIn, onSignOut }: { signedIn: boolean; onSignOut: () => void }) {
  const route = useRoute();
  const queryClient = useQueryClient();
  const token = tokenStore.get();
  const live = useLiveUpdates(queryClient, token, onSignOut);
  const [view = '', id] = route.path;

  return (
    <div className="layout">
      <header>
        <strong className="brand">taskd</strong>
        <nav>
          {VIEWS.map(([path, label]) => (
            <a key={path} href={`#/${path}`} className={view === path ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span className={`live ${live}`} data-testid="live-state" title="Live updates from GET /v1/stream">
          {live === 'live' ? '● live' : live === 'connecting' ? '○ connecting' : '○ offline'}
        </span>
        {signedIn && (
          <button className="link" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      <main>
        {view === '' && <Overview />}
        {view === 'tasks' && !id && <TaskList query={route.query} />}
        {view === 'tasks' && id && <TaskDetail id={id} />}
        {view === 'queues' && <QueueList />}
        {view === 'schedules' && <ScheduleList />}
        {view === 'workers' && <WorkerList />}
      </main>
    </div>
  );
}
