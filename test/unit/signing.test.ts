import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { parseWebhookSecret, WebhookSigner } from '../../src/outbound/signing.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

test('signatures verify with the official Standard Webhooks library', () => {
  const signer = new WebhookSigner(parseWebhookSecret(secret));
  const body = JSON.stringify({ type: 'task.completed', data: { id: 'x', text: 'héllo ✓' } });
  const headers = signer.headers('msg_1', body);
  assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
  // Any change to the body, id or key fails verification.
  assert.throws(() => new Webhook(secret).verify(`${body} `, { ...headers }));
  assert.throws(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' }));
  const other = `whsec_${randomBytes(32).toString('base64')}`;
  assert.throws(() => new Webhook(other).verify(body, { ...headers }));
});

test('the signature matches the official library for the same id, time and body', () => {
  const signer = new WebhookSigner(parseWebhookSecret(secret));
  const at = new Date('2026-12-01T10:00:00Z');
  assert.equal(
    signer.headers('msg_x', 'body', at)['webhook-signature'],
    new Webhook(secret).sign('msg_x', at, 'body'),
  );
});

test('without a secret, requests carry id and timestamp and no signature', () => {
  const headers = new WebhookSigner(undefined).headers('msg_1', '{}');
  assert.equal(headers['webhook-id'], 'msg_1');
  assert.match(headers['webhook-timestamp'], /^\d+$/);
  assert.equal(headers['webhook-signature'], undefined);
});

test('a secret of the wrong form is refused with a reason', () => {
  assert.throws(() => parseWebhookSecret('abc'), /whsec_/);
  assert.throws(() => parseWebhookSecret('whsec_not base64!'), /base64/);
  assert.throws(() => parseWebhookSecret(`whsec_${randomBytes(8).toString('base64')}`), /24 to 64 bytes/);
  assert.equal(parseWebhookSecret(secret).length, 32);
});

test('without a secret, the first unsigned request is reported once', () => {
  let reported = 0;
  const signer = new WebhookSigner(undefined, () => reported++);
  signer.headers('a', '');
  signer.headers('b', '');
  assert.equal(reported, 1);
});
