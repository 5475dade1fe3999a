import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryAfterMs } from '../../src/outbound/client.js';

test('Retry-After in seconds or as an HTTP date', () => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  assert.equal(retryAfterMs('3', now), 3000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Tue, 01 Dec 2026 10:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('Tue, 01 Dec 2026 09:00:00 GMT', now), 0);
  assert.equal(retryAfterMs(['2', '9'], now), 2000);
  assert.equal(retryAfterMs(undefined, now), undefined);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs('-1', now), undefined);
});
