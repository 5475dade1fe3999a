import { createTaskdClient, type components, type paths } from '../../src/client/index.js';

export type { components, paths };
export type Task = paths['/v1/tasks/{id}']['get']['responses'][200]['content']['application/json'];
export type TaskState = Task['state'];
export type Queue =
  paths['/v1/queues']['get']['responses'][200]['content']['application/json']['queues'][number];
export type Stats = paths['/v1/stats']['get']['responses'][200]['content']['application/json'];
export type Worker =
  paths['/v1/workers']['get']['responses'][200]['content']['application/json']['workers'][number];
export type Attempt =
  paths['/v1/tasks/{id}/attempts']['get']['responses'][200]['content']['application/json']['attempts'][number];
export type BulkBody = NonNullable<
  paths['/v1/tasks/bulk']['post']['requestBody']
>['content']['application/json'];

export const TASK_STATES: readonly TaskState[] = [
  'scheduled',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
];

/** The API refused the token (or asked for one): the page goes back to the token form. */
export class Unauthorized extends Error {
  constructor() {
    super('a valid token is needed');
    this.name = 'Unauthorized';
  }
}

/** Any other refusal, with the API's own message and code. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

const TOKEN_KEY = 'taskd.token';

/** The token lives for the browser tab only (sessionStorage): closing the tab forgets it. */
export const tokenStore = {
  get: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The typed client (taskd/client) against the server that served this page. */
export function apiClient(token: string | undefined) {
  return createTaskdClient({ baseUrl: window.location.origin, token });
}
export type ApiClient = ReturnType<typeof apiClient>;

/** The data of an answer, or the error it stands for. */
export function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.response.status === 401) throw new Unauthorized();
  if (answer.error !== undefined || answer.data === undefined) {
    const body = (answer.error ?? {}) as { error?: string; code?: string };
    throw new ApiFailure(body.error ?? `HTTP ${answer.response.status}`, answer.response.status, body.code);
  }
  return answer.data;
}

/**
 * Endpoints that an instance may not have (added by later versions): whether the API's own description lists
 * them. Asked once per page load; /openapi.json needs no token. Asking first keeps the page from requesting
 * paths that are not there.
 */
let described: Promise<ReadonlySet<string>> | undefined;
export function describedPaths(): Promise<ReadonlySet<string>> {
  described ??= fetch('/openapi.json')
    .then((r) => (r.ok ? (r.json() as Promise<{ paths?: Record<string, unknown> }>) : { paths: {} }))
    .then((doc) => new Set(Object.keys(doc.paths ?? {})))
    .catch(() => new Set<string>());
  return described;
}

/**
 * Calls an endpoint this build's typed client does not know yet (health, deliveries, schedules) when the server
 * describes it: `null` when it does not, or answers 404 for the path itself (null, not undefined: a query's
 * data may not be undefined).
 */
export async function optionalCall<T>(
  token: string | undefined,
  describedAs: string,
  path: string,
  init: RequestInit = {},
): Promise<T | null> {
  if (!(await describedPaths()).has(describedAs)) return null;
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body) headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) throw new Unauthorized();
  const body = (await res.json().catch(() => ({}))) as T & { error?: string; code?: string };
  if (res.status === 404 && (body.code === 'not_found' || body.code === undefined)) return null;
  if (!res.ok) throw new ApiFailure(body.error ?? `HTTP ${res.status}`, res.status, body.code);
  return body;
}
