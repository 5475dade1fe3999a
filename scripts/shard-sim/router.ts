/**
 * The routing proxy of the sharding simulation (scripts/shard-sim.ts): one HTTP front for K shards, each a
 * taskd process on its own database, whose processes run with TASK_ID_SHARD set to the shard's number.
 *
 * - `POST /v1/tasks` goes to the shard of a hash of its idempotency key (the `Idempotency-Key` header, else the
 *   body's `idempotency_key`), so that a replay reaches the shard that holds the original; without a key, and for
 *   `POST /v1/tasks/batch` (a batch stays on one shard, all or nothing), to the next shard in turn.
 * - `/v1/tasks/{id}` and every path below it go to the shard read from the id (`taskIdShard`), with no lookup.
 *   Version 4 ids and ids made before `since` (the time sharding began) belong to shard 0.
 * - Anything else (lists, stats, queues) would have to ask every shard and merge; this router answers 501.
 *
 * Each answer carries `X-Shard`, the shard that gave it, so that a client can check where it went.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { taskIdShard, taskIdTime } from '../../src/domain/task-id.js';

export interface RouterStats {
  /** Requests forwarded to each shard. */
  forwarded: number[];
  /** Creates sent by the hash of their key, and in turn (no key, or a batch). */
  createsByKey: number;
  createsInTurn: number;
  /** Requests by id, and those of them the chosen shard answered 404: a misroute, when the task exists. */
  byId: number;
  byIdNotFound: number;
  /** Ids whose shard is not one of the K: answered 404 here, never forwarded. */
  unknownShard: number;
  notRouted: number;
}

export interface Router {
  readonly url: string;
  readonly stats: RouterStats;
  close(): Promise<void>;
}

/** FNV-1a, 32 bits: cheap, stable across processes and runs, and spreads short keys evenly enough. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard of a create with this key, out of `shards`. */
export const shardOfKey = (key: string, shards: number): number => keyHash(key) % shards;

/** The shard of a task id, out of `shards`, or undefined when the id names a shard that does not exist. */
export function shardOfId(id: string, shards: number, sinceMs: number): number | undefined {
  const bits = taskIdShard(id);
  const time = taskIdTime(id);
  // Not a version 7 id, or one made before sharding began: its bits are random, and its task is on shard 0.
  if (bits === undefined || time === undefined || time < sinceMs) return 0;
  return bits < shards ? bits : undefined;
}

const BY_ID = /^\/v1\/tasks\/([^/?]+)(?:[/?]|$)/;
const CREATE = /^\/v1\/tasks\/?(?:\?|$)/;
const BATCH = /^\/v1\/tasks\/batch\/?(?:\?|$)/;
/** Paths below /v1/tasks/ that are not ids. */
const NOT_IDS = new Set(['batch', 'bulk']);

/** Headers that belong to one connection, not to the request: never passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
]);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The body's `idempotency_key`, if the body is a JSON object that has one (a bad body is the shard's to refuse). */
function bodyKey(body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    const key = (parsed as { idempotency_key?: unknown } | null)?.idempotency_key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function answer(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
}

export async function startRouter(shardUrls: readonly string[], sinceMs = 0): Promise<Router> {
  const shards = shardUrls.length;
  const pools = shardUrls.map((u) => new Pool(u, { connections: 64, pipelining: 1 }));
  const stats: RouterStats = {
    forwarded: shardUrls.map(() => 0),
    createsByKey: 0,
    createsInTurn: 0,
    byId: 0,
    byIdNotFound: 0,
    unknownShard: 0,
    notRouted: 0,
  };
  let turn = 0;

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    let shard: number | undefined;
    let byId = false;
    const idMatch = BY_ID.exec(url);
    if (idMatch && !NOT_IDS.has(idMatch[1]!)) {
      byId = true;
      stats.byId++;
      shard = shardOfId(decodeURIComponent(idMatch[1]!), shards, sinceMs);
      if (shard === undefined) {
        stats.unknownShard++;
        return answer(res, 404, 'task_not_found', 'No task has this id: its shard does not exist.');
      }
    } else if (method === 'POST' && CREATE.test(url)) {
      const header = req.headers['idempotency-key'];
      const key = typeof header === 'string' ? header : bodyKey(body);
      if (key !== undefined) {
        stats.createsByKey++;
        shard = shardOfKey(key, shards);
      } else {
        stats.createsInTurn++;
        shard = turn++ % shards;
      }
    } else if (method === 'POST' && BATCH.test(url)) {
      stats.createsInTurn++;
      shard = turn++ % shards;
    } else {
      stats.notRouted++;
      return answer(res, 501, 'not_routed', 'This router sends only creates and requests by task id.');
    }

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    stats.forwarded[shard]!++;
    const upstream = await pools[shard]!.request({
      method,
      path: url,
      headers,
      ...(body.length > 0 && { body }),
    });
    if (byId && upstream.statusCode === 404) stats.byIdNotFound++;
    const out: Record<string, string | string[]> = { 'x-shard': String(shard) };
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
    }
    const payload = Buffer.from(await upstream.body.arrayBuffer());
    out['content-length'] = String(payload.length);
    res.writeHead(upstream.statusCode, out);
    res.end(payload);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      answer(res, 502, 'bad_gateway', `The shard did not answer: ${(err as Error).message}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}
