/**
 * The service's configuration: every environment variable it reads is declared here once, with its type,
 * default and a line of documentation. `loadConfig` validates them all at start-up and reports every problem
 * at once; a typo never falls back silently to a default. docs/configuration.md is checked against this table
 * by a test.
 */

import { isIP } from 'node:net';
import { MAX_CONCURRENT_INSERTS } from './domain/task-service.js';
import { parseAllowEntry } from './outbound/address-guard.js';
import { parseWebhookSecret } from './outbound/signing.js';

type Parser<T> = (raw: string) => T;

interface VarSpec<T> {
  /** Default when the variable is unset or empty; `undefined` means "unset is allowed and means off". */
  default: T;
  parse: Parser<T>;
  doc: string;
}

class ConfigError extends Error {}

function int(min: number, max: number = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** A number, fractions allowed (`0.5`, not `1e3`). */
function decimal(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(`must be a number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

const text: Parser<string> = (raw) => raw;

function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (raw) => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new ConfigError(`must be one of ${values.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  };
}

function tokenList(raw: string): string[] {
  const tokens = raw
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (tokens.length === 0) throw new ConfigError('must list at least one token');
  if (tokens.some((t) => t.length < 16)) throw new ConfigError('each token must be at least 16 characters');
  return tokens;
}

/** The kinds built into every process; an external worker cannot take over one of them. */
const BUILT_IN_KINDS: readonly string[] = ['simulate', 'noop'];

/** A kind name as v1 creates accept it (src/http/schemas.ts, `Name`). */
const KIND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

function kindList(raw: string): string[] {
  const kinds = raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  if (kinds.length === 0) throw new ConfigError('must list at least one kind');
  const bad = kinds.find((k) => !KIND_NAME.test(k));
  if (bad !== undefined) {
    throw new ConfigError(
      `must list kind names (a letter or digit, then letters, digits, _ . : -, at most 200), got "${bad}"`,
    );
  }
  const builtIn = kinds.find((k) => BUILT_IN_KINDS.includes(k));
  if (builtIn !== undefined) throw new ConfigError(`must not name the built-in kind "${builtIn}"`);
  const repeated = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (repeated !== undefined) throw new ConfigError(`names "${repeated}" twice`);
  return kinds;
}

function databaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('must be a URL such as postgres://user@host:5432/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`must use the postgres:// scheme, got "${url.protocol}"`);
  }
  return raw;
}

/**
 * The statements one process may run at once on its own: up to MAX_CONCURRENT_INSERTS insert flushes, a claim,
 * a settle and a maintenance job, plus one connection left for reads. A smaller pool would make them queue for
 * connections (and time out) under load.
 */
export const MIN_POOL_SIZE = MAX_CONCURRENT_INSERTS + 3 + 1;

function poolSize(raw: string): number {
  const n = int(1, 1000)(raw);
  if (n < MIN_POOL_SIZE) {
    throw new ConfigError(
      `must be at least ${MIN_POOL_SIZE}, got ${n}: a process runs up to ${MIN_POOL_SIZE - 1} statements of its own at once (${MAX_CONCURRENT_INSERTS} insert flushes, a claim, a settle, a maintenance job) and needs one more connection for reads`,
    );
  }
  return n;
}

/** `TRUST_PROXY`: believe X-Forwarded-For from any peer (`true`), from none (`false`), or from these. */
export type TrustProxy = boolean | readonly string[];

/** The named ranges Fastify's trustProxy (through proxy-addr) accepts besides addresses and CIDRs. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry) || isIP(entry) !== 0) return true;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (!m) return false;
  const family = isIP(m[1]!);
  return family !== 0 && Number(m[2]) <= (family === 4 ? 32 : 128);
}

function trustProxy(raw: string): TrustProxy {
  const value = raw.trim();
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  // Fastify no longer honours a hop count (it cannot tell a proxy from a client that connects directly and
  // sends the header itself), so accepting one would silently trust nobody.
  if (/^\d+$/.test(value)) {
    throw new ConfigError(`must list the proxies' addresses or CIDRs, not a hop count, got "${raw}"`);
  }
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  const bad = entries.find((e) => !isProxyAddress(e));
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(
      'must be true, false, or a comma-separated list of IP addresses, CIDRs (10.0.0.0/8) or loopback, ' +
        `linklocal, uniquelocal; got "${bad ?? raw}"`,
    );
  }
  return entries;
}

/** Checked here, kept as written: the address guard parses them (parseAllowEntry) when it is built. */
function allowHosts(raw: string): string[] {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  const parsed = entries.map((e) => [e, parseAllowEntry(e)] as const);
  const bad = parsed.find(([, p]) => p === undefined);
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(
      `must be a comma-separated list of host names, IP addresses or CIDRs (10.0.0.0/8), got "${bad?.[0] ?? raw}"`,
    );
  }
  return entries;
}

/** Checked here, kept as written: the signer decodes it. */
function webhookSecret(raw: string): string {
  try {
    parseWebhookSecret(raw.trim());
    return raw.trim();
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function bool(raw: string): boolean {
  const value = raw.trim();
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new ConfigError(`must be true or false, got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The declared schema. Order here is the order of docs/configuration.md. */
export const configSchema = {
  PORT: { default: 8080, parse: int(0, 65535), doc: 'HTTP port to listen on (0 picks a free port).' },
  HOST: { default: '0.0.0.0', parse: text, doc: 'HTTP address to listen on.' },
  DATABASE_URL: {
    default: undefined as string | undefined,
    parse: databaseUrl,
    doc: 'PostgreSQL URL. Unset: start the embedded PostgreSQL in DATA_DIR.',
  },
  DATA_DIR: { default: './data', parse: text, doc: 'Where the embedded PostgreSQL keeps its files.' },
  EMBEDDED_PG_PORT: {
    default: 54329,
    parse: int(1, 65535),
    doc: 'Port of the embedded PostgreSQL (loopback only); unused when DATABASE_URL is set.',
  },
  DB_POOL_SIZE: {
    default: 20,
    parse: poolSize,
    doc: `Connections in the pool of one process (at least ${MIN_POOL_SIZE}); the heartbeat and notifications use two more.`,
  },
  DATABASE_READ_URL: {
    default: undefined as string | undefined,
    parse: databaseUrl,
    doc: 'URL of a streaming replica of DATABASE_URL for reads that tolerate staleness (lists, reads, the dashboard). Unset: every read goes to DATABASE_URL.',
  },
  DB_READ_POOL_SIZE: {
    default: 10,
    parse: int(1, 1000),
    doc: 'Connections in the pool of one process to DATABASE_READ_URL.',
  },
  DATABASE_READ_MAX_LAG_MS: {
    default: 5000,
    parse: int(0, 86_400_000),
    doc: 'Replay lag beyond which reads go to DATABASE_URL instead of the replica, until it catches up.',
  },
  TASK_ID_SHARD: {
    default: undefined as number | undefined,
    parse: int(0, 255),
    doc: 'Shard (0–255) put in the ids this process makes (the two hex digits after the version `7`), for routing by id without a lookup. Unset: those bits are random.',
  },
  TASK_TIMEOUT_MS: {
    default: 240_000,
    parse: int(1, 86_400_000),
    doc: 'Default per-task timeout, counted from when the task starts running.',
  },
  SHUTDOWN_GRACE_MS: {
    default: 8000,
    parse: int(0, 3_600_000),
    doc: 'On SIGTERM/SIGINT, how long running tasks may still finish before they are failed.',
  },
  SIMULATE_MIN_MS: {
    default: 1000,
    parse: int(0, 3_600_000),
    doc: 'Shortest run of the `simulate` handler.',
  },
  SIMULATE_MAX_MS: { default: 5000, parse: int(0, 3_600_000), doc: 'Longest run of the `simulate` handler.' },
  DEFAULT_HANDLER: {
    default: 'simulate',
    parse: oneOf(['simulate', 'noop'] as const),
    doc: 'Handler that runs tasks created through the original API (`noop` finishes at once, for benchmarks).',
  },
  WORKER_CONCURRENCY: {
    default: 1000,
    parse: int(0, 1_000_000),
    doc: 'Handlers running at once in one process (as many tasks again may be waiting for their outcome to be written); 0 serves the API and claims nothing.',
  },
  LEASE_MS: {
    default: 15_000,
    parse: int(1000, 30_000),
    doc: 'How long a process may go without renewing its heartbeat before its running tasks are failed.',
  },
  POLL_INTERVAL_MS: {
    default: 1000,
    parse: int(10, 60_000),
    doc: 'Fallback poll for new tasks when no notification arrives (jittered).',
  },
  PROGRESS_INTERVAL_MS: {
    default: 1000,
    parse: int(10, 600_000),
    doc: "A task's progress (`ctx.progress`) is written at most once per interval, and its last value when the run ends.",
  },
  EXTERNAL_KINDS: {
    default: undefined as string[] | undefined,
    parse: kindList,
    doc: 'Comma-separated kinds run by external workers (POST /v1/workers/claim); no process of taskd runs them.',
  },
  EXTERNAL_LEASE_MS: {
    default: 30_000,
    parse: int(1000, 3_600_000),
    doc: "An external worker's lease on a claimed task, unless its claim asks for another; heartbeats extend it.",
  },
  MAX_TASK_LENGTH: {
    default: 65_536,
    parse: int(1, 10_000_000),
    doc: 'Longest accepted `task` string, in characters.',
  },
  RETRY_BACKOFF_BASE_MS: {
    default: 1000,
    parse: int(1, 86_400_000),
    doc: 'Retries wait a random time up to RETRY_BACKOFF_BASE_MS · 2^(retry-1) (full jitter), unless the task sets its own.',
  },
  RETRY_BACKOFF_MAX_MS: {
    default: 3_600_000,
    parse: int(1, 604_800_000),
    doc: 'The longest wait between two runs of a task, however many retries it has had.',
  },
  MAX_RESULT_BYTES: {
    default: 1_048_576,
    parse: int(1024, 100_000_000),
    doc: 'Largest stored result, in bytes of UTF-8; a handler returning more fails its task with a message saying so.',
  },
  BODY_LIMIT_BYTES: {
    default: 1_048_576,
    parse: int(1024, 100_000_000),
    doc: 'Largest accepted request body; larger bodies get 413.',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    default: 30_000,
    parse: int(1000, 3_600_000),
    doc: 'Time a client has to send a whole request, headers and body (408 and the connection closed beyond it).',
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    default: 72_000,
    parse: int(1000, 3_600_000),
    doc: "How long an idle keep-alive connection stays open; keep it above the load balancer's idle timeout.",
  },
  RETENTION_DAYS: {
    default: 7,
    parse: decimal(0, 36_500),
    doc: 'Finished tasks are kept this many days (fractions allowed: 0.5 is 12 hours), then dropped with their partition; 0 keeps them forever.',
  },
  PARTITION_INTERVAL_MINUTES: {
    default: 1440,
    parse: int(1, 525_600),
    doc: 'The time range of one partition of the task table (by the time in the task id); retention drops whole partitions.',
  },
  SCHEDULE_MISFIRE_GRACE_MS: {
    default: 10_000,
    parse: int(0, 86_400_000),
    doc: "A schedule's tick at most this late still runs; later ticks (taskd was down) are skipped but the latest.",
  },
  API_TOKENS: {
    default: undefined as string[] | undefined,
    parse: tokenList,
    doc: 'Comma-separated bearer tokens. Set: every endpoint but /healthz and /readyz requires one (and /metrics, see METRICS_PUBLIC).',
  },
  RATE_LIMIT_MAX: {
    default: 0,
    parse: int(0, 100_000_000),
    doc: 'Requests one client address may make per RATE_LIMIT_WINDOW_MS (429 beyond it); 0 turns rate limiting off.',
  },
  RATE_LIMIT_WINDOW_MS: {
    default: 1000,
    parse: int(100, 3_600_000),
    doc: 'The window of RATE_LIMIT_MAX.',
  },
  TRUST_PROXY: {
    default: false,
    parse: trustProxy,
    doc: 'Proxies whose X-Forwarded-For names the client: true (any peer), or comma-separated addresses or CIDRs.',
  },
  HTTP_ALLOW_HOSTS: {
    default: undefined as string[] | undefined,
    parse: allowHosts,
    doc: 'Comma-separated host names, IP addresses or CIDRs that `http` tasks and webhooks may reach although they are private, loopback, link-local or otherwise refused.',
  },
  HTTP_MAX_RESPONSE_BYTES: {
    default: 1_048_576,
    parse: int(0, 100_000_000),
    doc: 'Largest response body an `http` task reads; a larger one fails the task without a retry.',
  },
  HTTP_CONNECT_TIMEOUT_MS: {
    default: 10_000,
    parse: int(100, 600_000),
    doc: 'How long an `http` task or a webhook delivery may take to connect (the whole request is bounded by the task timeout or WEBHOOK_TIMEOUT_MS).',
  },
  WEBHOOK_SECRET: {
    default: undefined as string | undefined,
    parse: webhookSecret,
    doc: 'Signing key of webhooks and `http` requests (Standard Webhooks), `whsec_` and base64. Unset: they are sent unsigned (said at start, and warned at the first one).',
  },
  WEBHOOK_TIMEOUT_MS: {
    default: 10_000,
    parse: int(100, 600_000),
    doc: 'How long one webhook delivery attempt may take, connect to last byte.',
  },
  WEBHOOK_MAX_ATTEMPTS: {
    default: 18,
    parse: int(1, 100),
    doc: 'Delivery attempts of one webhook before it is marked `failed` (with the default backoff, 18 attempts span about 13 to 26 hours).',
  },
  WEBHOOK_BACKOFF_BASE_MS: {
    default: 5000,
    parse: int(1, 86_400_000),
    doc: 'Wait before the first retry of a webhook; each later one doubles it (with jitter), up to WEBHOOK_BACKOFF_MAX_MS.',
  },
  WEBHOOK_BACKOFF_MAX_MS: {
    default: 14_400_000,
    parse: int(1, 604_800_000),
    doc: 'The longest wait between two attempts of a webhook.',
  },
  WEBHOOK_CONCURRENCY: {
    default: 16,
    parse: int(0, 10_000),
    doc: 'Webhook deliveries one process makes at once; 0: this process delivers none.',
  },
  HANDLERS_DIR: {
    default: undefined as string | undefined,
    parse: text,
    doc: 'Directory of handler modules: each *.js, *.mjs or *.ts file is a kind. Unset: ./handlers if it exists.',
  },
  HANDLER_THREADS: {
    default: 4,
    parse: int(1, 1024),
    doc: 'Most worker threads running handlers of `isolation: "thread"` at once (started on demand).',
  },
  METRICS_PUBLIC: {
    default: false,
    parse: bool,
    doc: 'true: GET /metrics needs no bearer token even when API_TOKENS is set (for a scraper on a private network).',
  },
  METRICS_SAMPLE_INTERVAL_MS: {
    default: 15_000,
    parse: int(100, 3_600_000),
    doc: 'How often each process samples queue depths, live workers and database health for /metrics and its warnings.',
  },
  HEALTH_DEAD_TUPLES_WARN: {
    default: 1_000_000,
    parse: int(1),
    doc: 'Dead tuples in one task table above which database health warns.',
  },
  HEALTH_TABLE_SIZE_WARN_BYTES: {
    default: 10_737_418_240,
    parse: int(1),
    doc: 'Size of one task table (with indexes and TOAST) above which database health warns.',
  },
  HEALTH_XMIN_HORIZON_WARN_S: {
    default: 300,
    parse: int(1, 604_800),
    doc: 'Age in seconds of the oldest transaction holding back vacuum above which database health warns.',
  },
  LOG_LEVEL: { default: 'info', parse: oneOf(LOG_LEVELS), doc: 'Log level.' },
} satisfies Record<string, VarSpec<unknown>>;

type Schema = typeof configSchema;
export type Config = { readonly [K in keyof Schema]: ReturnType<Schema[K]['parse']> | Schema[K]['default'] };

/** Thrown by loadConfig; its message is one line per bad variable, each naming it. */
export class InvalidConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'InvalidConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(configSchema) as [string, VarSpec<unknown>][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      out[name] = spec.default;
      continue;
    }
    try {
      out[name] = spec.parse(raw);
    } catch (err) {
      problems.push(`${name} ${err instanceof ConfigError ? err.message : String(err)}`);
    }
  }
  const config = out as Config;
  if (problems.length === 0) {
    if (config.SIMULATE_MIN_MS > config.SIMULATE_MAX_MS) {
      problems.push(
        `SIMULATE_MIN_MS (${config.SIMULATE_MIN_MS}) must not exceed SIMULATE_MAX_MS (${config.SIMULATE_MAX_MS})`,
      );
    }
    if (config.MAX_TASK_LENGTH * 4 + 64 > config.BODY_LIMIT_BYTES) {
      // A task of MAX_TASK_LENGTH characters must fit in a body, even if every character takes 4 bytes of UTF-8.
      problems.push(`MAX_TASK_LENGTH (${config.MAX_TASK_LENGTH}) cannot fit in BODY_LIMIT_BYTES; raise it`);
    }
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return Object.freeze(config);
}
