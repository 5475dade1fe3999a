import { createHmac } from 'node:crypto';

/**
 * Signatures of outbound requests as the Standard Webhooks specification says (https://www.standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`, keyed with the bytes of WEBHOOK_SECRET (`whsec_<base64>`). A receiver verifies them with
 * any of the specification's libraries, and uses `webhook-id` to drop a message it has already handled.
 */

const PREFIX = 'whsec_';
/** The specification asks for keys of 24 to 64 bytes. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The key of a `whsec_<base64>` secret; throws a message naming what is wrong (config reports it at start). */
export function parseWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('must start with "whsec_" followed by base64');
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new Error('must be "whsec_" followed by standard base64 (A-Z, a-z, 0-9, +, /, = padding)');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new Error(`must hold ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes of key, got ${key.length}`);
  }
  return key;
}

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  /** Absent when no secret is configured. */
  'webhook-signature'?: string;
}

export class WebhookSigner {
  private warned = false;

  /**
   * @param key the bytes of WEBHOOK_SECRET; undefined: requests carry id and timestamp, unsigned
   * @param onFirstUnsigned called once, when the first request goes out unsigned (a warning for the operator, at
   *   the moment it matters rather than at every start of a service that may never send one)
   */
  constructor(
    private readonly key: Buffer | undefined,
    private readonly onFirstUnsigned: () => void = () => {},
  ) {}

  get signs(): boolean {
    return this.key !== undefined;
  }

  /** `v1,<base64>` of "id.timestamp.body". */
  signature(id: string, timestampS: number, body: string | Buffer): string {
    if (!this.key) throw new Error('no WEBHOOK_SECRET to sign with');
    const mac = createHmac('sha256', this.key).update(`${id}.${timestampS}.`).update(body).digest('base64');
    return `v1,${mac}`;
  }

  /** The headers of one request: signed now, so that a retry carries a fresh timestamp (and signature). */
  headers(id: string, body: string | Buffer, now: Date = new Date()): SignatureHeaders {
    const timestampS = Math.floor(now.getTime() / 1000);
    const headers: SignatureHeaders = { 'webhook-id': id, 'webhook-timestamp': String(timestampS) };
    if (this.key) headers['webhook-signature'] = this.signature(id, timestampS, body);
    else if (!this.warned) {
      this.warned = true;
      this.onFirstUnsigned();
    }
    return headers;
  }
}
