import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };

/** A task as the v1 API answers with it. */
export type Task = paths['/v1/tasks/{id}']['get']['responses'][200]['content']['application/json'];

export interface ClientOptions {
  /** Where taskd answers, e.g. http://localhost:8080 */
  baseUrl: string;
  /** One of API_TOKENS, when the service requires one. */
  token?: string | undefined;
  /** A fetch of your own (tests, proxies); the global one otherwise. */
  fetch?: typeof globalThis.fetch;
}

/**
 * A typed client of the taskd HTTP API (`taskd/client`): openapi-fetch over the types generated from the
 * service's own OpenAPI document, so that paths, parameters, bodies and answers are checked by the compiler.
 *
 *   const taskd = createTaskdClient({ baseUrl: 'http://localhost:8080' });
 *   const { data, error } = await taskd.POST('/v1/tasks', { body: { kind: 'noop', input: { n: 1 } } });
 */
export function createTaskdClient(options: ClientOptions): Client<paths> {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.token !== undefined && { headers: { authorization: `Bearer ${options.token}` } }),
    ...(options.fetch && { fetch: options.fetch }),
  });
}
