import { Type, type Static } from '../vendor/typebox.js';
import { findAddressRefusal } from '../outbound/address-guard.js';
import {
  ResponseTooLargeError,
  UnsupportedUrlError,
  retryAfterMs,
  type OutboundClient,
} from '../outbound/client.js';
import type { WebhookSigner } from '../outbound/signing.js';
import { compileSchemaCheck } from './input-schema.js';
import type { Handler, InputProblem } from './registry.js';

/**
 * The built-in `http` kind: one HTTP request per run, through the address guard, signed like the webhooks. A 2xx
 * completes the task with `{"status", "headers", "body"}`; 408, 429, 5xx and network errors are retried (after at
 * least `Retry-After`); any other status fails the task for good.
 */

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Headers taskd sets itself: the connection's framing, and the signature of the request. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'keep-alive',
  'te',
  'trailer',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

export const HTTP_INPUT_SCHEMA = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'An http:// or https:// URL.' }),
    method: Type.Optional(Type.Enum(METHODS, { description: 'Default GET.' })),
    headers: Type.Optional(
      Type.Record(
        Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }),
        Type.String({ maxLength: 8192 }),
        {
          description: 'Request headers; host, framing and webhook-* headers are set by taskd.',
          // A name that is no HTTP token is refused at create, not by the request at run time.
          additionalProperties: false,
        },
      ),
    ),
    body: Type.Optional(
      Type.Unknown({
        description:
          'A string is sent as it is (text/plain unless content-type says otherwise); any other JSON value as JSON.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type HttpInput = Static<typeof HTTP_INPUT_SCHEMA>;

// ajv, which the kinds' input schemas use anyway, rather than TypeBox's own checker: that one alone took half a
// second of every start to load.
const checkHttpInput = compileSchemaCheck(HTTP_INPUT_SCHEMA);

/** What is wrong with an `http` task's input, each problem with its path (empty: the input is fine). */
export function httpInputProblems(input: unknown): InputProblem[] {
  const problems: InputProblem[] = [];
  const unknown = new Map<string, string[]>();
  for (const e of checkHttpInput(input) ?? []) {
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    if (e.keyword === 'required' && params.missingProperty !== undefined) {
      // A missing field is reported where it belongs.
      problems.push({ path: `${e.instancePath}/${params.missingProperty}`, message: 'is required' });
    } else if (e.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
      unknown.set(e.instancePath, [...(unknown.get(e.instancePath) ?? []), params.additionalProperty]);
    } else {
      problems.push({ path: e.instancePath, message: e.message ?? e.keyword });
    }
  }
  for (const [path, names] of unknown) {
    problems.push({
      path,
      message:
        path === ''
          ? `has fields an http input has not: ${names.join(', ')}`
          : `has names that are not HTTP header names: ${names.join(', ')}`,
    });
  }
  if (problems.length > 0) return problems;
  const req = input as HttpInput;
  let url: URL | undefined;
  try {
    url = new URL(req.url);
  } catch {
    problems.push({ path: '/url', message: 'is not a URL' });
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push({ path: '/url', message: 'must be an http:// or https:// URL' });
  }
  if (url && (url.username || url.password)) {
    problems.push({
      path: '/url',
      message: 'must not carry credentials; send an Authorization header',
    });
  }
  for (const name of Object.keys(req.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      problems.push({ path: `/headers/${name}`, message: 'is set by taskd and may not be given' });
    }
  }
  if (req.body !== undefined && (req.method ?? 'GET') === 'GET') {
    problems.push({ path: '/body', message: 'a GET request has no body; give a method such as POST' });
  }
  if (req.body !== undefined && req.method === 'HEAD') {
    problems.push({ path: '/body', message: 'a HEAD request has no body' });
  }
  return problems;
}

/** A run that ended badly, with what the executor needs to decide: retry or not, and not before when. */
export class HttpTaskError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpTaskError';
  }
}

const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

export interface HttpHandlerOptions {
  client: OutboundClient;
  signer: WebhookSigner;
  maxResponseBytes: number;
}

export function httpHandler({ client, signer, maxResponseBytes }: HttpHandlerOptions): Handler {
  return async (input, ctx) => {
    // Checked at create too; a task inserted another way (taskd.add_task) is checked here, and fails for good.
    const problems = httpInputProblems(input);
    if (problems.length > 0) {
      throw new HttpTaskError(
        `invalid http input: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        false,
      );
    }
    const req = input as HttpInput;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      headers['content-type'] ??=
        typeof req.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    }
    // The task id is the message id: the same across the task's retries, so that a receiver can deduplicate.
    Object.assign(headers, signer.headers(ctx.taskId, body ?? ''));

    let res;
    try {
      res = await client.request(req.url, {
        method: req.method ?? 'GET',
        headers,
        body,
        signal: ctx.signal,
        maxResponseBytes,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err; // the executor says why (timeout, cancel, shutdown)
      const refusal = findAddressRefusal(err);
      if (refusal) throw new HttpTaskError(refusal.message, false);
      if (err instanceof ResponseTooLargeError) {
        throw new HttpTaskError(`${err.message} (HTTP_MAX_RESPONSE_BYTES)`, false);
      }
      if (err instanceof UnsupportedUrlError) throw new HttpTaskError(err.message, false);
      // Connection refused or reset, DNS failure, connect timeout: the target may well answer next time.
      throw new HttpTaskError(`request failed: ${describeNetworkError(err)}`, true);
    }

    if (res.status >= 200 && res.status < 300) {
      return { status: res.status, headers: res.headers, body: responseBody(res.headers, res.body) };
    }
    const message = `HTTP ${res.status} from ${new URL(req.url).origin}`;
    if (isRetryableStatus(res.status)) {
      throw new HttpTaskError(message, true, retryAfterMs(res.headers['retry-after']));
    }
    throw new HttpTaskError(message, false);
  };
}

/** JSON when the response says it is JSON (and is), text otherwise. */
function responseBody(headers: Record<string, string | string[]>, body: Buffer): unknown {
  const type = String(headers['content-type'] ?? '').toLowerCase();
  const text = body.toString('utf8');
  if (/^application\/([\w.+-]+\+)?json\b/.test(type) && text.length > 0) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code =
    typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
