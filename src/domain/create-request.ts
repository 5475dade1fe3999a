import { createHash } from 'node:crypto';
import type { NewTaskV1 } from '../db/store.js';
import { ApiError } from './errors.js';
import { newTaskId } from './task-id.js';
import type { KindInfo } from './task-service.js';

/** A v1 create body, as the route's schema has already checked its shape (see http/schemas.ts). */
export interface CreateBody {
  kind: string;
  input?: unknown;
  queue?: string;
  priority?: number;
  run_at?: string;
  delay_ms?: number;
  timeout_ms?: number;
  max_attempts?: number;
  backoff?: { base_ms?: number; max_ms?: number };
  callback_url?: string;
  idempotency_key?: string;
}

export interface CreateDefaults {
  timeoutMs: number;
  maxAttempts: number;
  /** Every kind a create may name, with its own defaults and input check. */
  kinds: ReadonlyMap<string, KindInfo>;
}

/**
 * Turns a create body into the row to insert: the rules a schema cannot say (one of run_at and delay_ms, a known
 * kind, an input its kind's schema accepts and PostgreSQL can store) and the defaults, the kind's own first.
 * Throws the ApiError to answer otherwise.
 */
export function newTaskFromBody(
  body: CreateBody,
  defaults: CreateDefaults,
  idempotencyKey?: string,
): NewTaskV1 {
  const kind = defaults.kinds.get(body.kind);
  if (!kind) {
    throw new ApiError('UNKNOWN_KIND', undefined, {
      kind: body.kind,
      known: [...defaults.kinds.keys()].sort(),
    });
  }
  if (body.run_at !== undefined && body.delay_ms !== undefined) {
    throw new ApiError('INVALID_REQUEST', undefined, [
      { path: '/run_at', message: 'give run_at or delay_ms, not both' },
    ]);
  }
  // A delay counts from the database's clock, not this process's: the insert adds it to now(), so a host whose
  // clock is off does not run a delayed task early or late.
  const runAt = body.run_at !== undefined ? new Date(body.run_at) : null;
  const delayMs = body.run_at === undefined ? (body.delay_ms ?? null) : null;
  const input = JSON.stringify(body.input ?? null);
  // jsonb cannot hold NUL, nor a lone surrogate: such input would not read back as it was sent.
  if (!storableJson(body.input)) {
    throw new ApiError('INVALID_REQUEST', undefined, [
      { path: '/input', message: 'strings in input may not hold NUL or unpaired surrogates' },
    ]);
  }
  // What the handler will be given: an absent input is null.
  const problems = kind.validate?.(body.input ?? null);
  if (problems) {
    throw new ApiError(
      'INVALID_INPUT',
      undefined,
      problems.map((p) => ({ path: `/input${p.path}`, message: p.message })),
    );
  }
  const key = body.idempotency_key ?? idempotencyKey ?? null;
  return {
    id: newTaskId(),
    kind: body.kind,
    input,
    timeoutMs: body.timeout_ms ?? kind.defaults.timeout_ms ?? defaults.timeoutMs,
    queue: body.queue ?? kind.defaults.queue ?? 'default',
    priority: body.priority ?? 0,
    runAt,
    delayMs,
    maxAttempts: body.max_attempts ?? kind.defaults.max_attempts ?? defaults.maxAttempts,
    backoffBaseMs: body.backoff?.base_ms ?? kind.backoff?.baseMs ?? null,
    backoffMaxMs: body.backoff?.max_ms ?? kind.backoff?.maxMs ?? null,
    idempotencyKey: key,
    fingerprint: key === null ? null : fingerprint(body),
    callbackUrl: body.callback_url ?? null,
  };
}

/** What a replay under the same idempotency key must match: the request body, keys in a stable order. */
export function fingerprint(body: CreateBody): string {
  const { idempotency_key: _key, ...rest } = body;
  return createHash('sha256').update(stableJson(rest)).digest('base64url');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether every string (and key) of a JSON value can be stored in jsonb and read back unchanged. */
function storableJson(value: unknown): boolean {
  if (typeof value === 'string') return !value.includes('\u0000') && value.isWellFormed();
  if (Array.isArray(value)) return value.every(storableJson);
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).every(
      ([k, v]) => storableJson(k) && storableJson(v),
    );
  }
  return true;
}
