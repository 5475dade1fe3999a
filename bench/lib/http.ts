import { Pool } from 'undici';
import { closedLoop } from './util.js';

/** HTTP load from this process (never the server's) with undici's connection pool, one request per connection at a time. */
export class HttpLoad {
  readonly pool: Pool;

  constructor(url: string, connections: number) {
    this.pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async create(task: string): Promise<string> {
    const res = await this.pool.request({
      method: 'POST',
      path: '/task/create',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task }),
    });
    const body = (await res.body.json()) as { task_id?: string };
    if (res.statusCode !== 201 || !body.task_id) throw new Error(`create answered ${res.statusCode}`);
    return body.task_id;
  }

  /** POST /v1/tasks with a JSON input, for a task of `kind`. */
  async createV1(kind: string, input: unknown): Promise<string> {
    const res = await this.pool.request({
      method: 'POST',
      path: '/v1/tasks',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind, input }),
    });
    const body = (await res.body.json()) as { id?: string };
    if (res.statusCode !== 201 || !body.id) throw new Error(`v1 create answered ${res.statusCode}`);
    return body.id;
  }

  async check(taskId: string): Promise<void> {
    const res = await this.pool.request({ method: 'GET', path: `/task/check-result?task_id=${taskId}` });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`check-result answered ${res.statusCode}`);
  }

  async getV1(taskId: string): Promise<void> {
    const res = await this.pool.request({ method: 'GET', path: `/v1/tasks/${taskId}` });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`GET /v1/tasks/{id} answered ${res.statusCode}`);
  }

  /** `connections` closed loops of `call` for `durationMs`. */
  run(connections: number, durationMs: number, call: (loop: number) => Promise<unknown>) {
    return closedLoop(connections, durationMs, async (loop) => void (await call(loop)));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
