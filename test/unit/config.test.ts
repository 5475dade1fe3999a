import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { InvalidConfigError, MIN_POOL_SIZE, loadConfig } from '../../src/config.js';
import { MAIN } from '../helpers/server.js';

test('defaults match the documented interface', () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 8080);
  assert.equal(c.HOST, '0.0.0.0');
  assert.equal(c.DATABASE_URL, undefined);
  assert.equal(c.DATA_DIR, './data');
  assert.equal(c.TASK_TIMEOUT_MS, 240_000);
  assert.equal(c.SHUTDOWN_GRACE_MS, 8000);
  assert.equal(c.LOG_LEVEL, 'info');
  assert.ok(c.LEASE_MS <= 30_000);
  assert.ok(c.WORKER_CONCURRENCY >= 100);
});

test('small values work: leases and timeouts of a second, zero-length simulations', () => {
  const c = loadConfig({
    LEASE_MS: '1000',
    TASK_TIMEOUT_MS: '1000',
    SIMULATE_MIN_MS: '0',
    SIMULATE_MAX_MS: '0',
  });
  assert.equal(c.LEASE_MS, 1000);
  assert.equal(c.SIMULATE_MAX_MS, 0);
});

test('every bad variable is reported at once, each by name', () => {
  const err = (() => {
    try {
      loadConfig({
        PORT: 'eighty',
        LEASE_MS: '60000',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        WORKER_CONCURRENCY: '-1',
      });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof InvalidConfigError);
  const names = err.problems.map((p) => p.split(' ')[0]);
  assert.deepEqual(names.sort(), ['DATABASE_URL', 'LEASE_MS', 'LOG_LEVEL', 'PORT', 'WORKER_CONCURRENCY']);
});

test('cross-field rules: SIMULATE_MIN_MS may not exceed SIMULATE_MAX_MS', () => {
  assert.throws(() => loadConfig({ SIMULATE_MIN_MS: '500', SIMULATE_MAX_MS: '100' }), /SIMULATE_MIN_MS/);
});

test('the service refuses to start on bad config, with one clear line naming the variable', () => {
  const r = spawnSync(process.execPath, [MAIN], {
    env: { ...process.env, LEASE_MS: '500' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^taskd: invalid configuration: LEASE_MS must be between 1000 and 30000, got 500$/);
});

test('DB_POOL_SIZE below what a process runs at once on its own is refused, saying why', () => {
  assert.throws(
    () => loadConfig({ DB_POOL_SIZE: String(MIN_POOL_SIZE - 1) }),
    (err: unknown) =>
      err instanceof InvalidConfigError &&
      err.problems.length === 1 &&
      /^DB_POOL_SIZE must be at least 8, got 7: .*insert flushes, a claim, a settle/.test(err.problems[0]!),
  );
  assert.equal(loadConfig({ DB_POOL_SIZE: String(MIN_POOL_SIZE) }).DB_POOL_SIZE, MIN_POOL_SIZE);
});

test('outbound requests: HTTP_ALLOW_HOSTS entries and WEBHOOK_SECRET are checked at start', () => {
  const ok = loadConfig({
    HTTP_ALLOW_HOSTS: 'localhost, 127.0.0.1, 10.0.0.0/8, [::1], fd00::/8',
    WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  });
  assert.equal(ok.HTTP_ALLOW_HOSTS?.length, 5);
  assert.match(ok.WEBHOOK_SECRET ?? '', /^whsec_/);
  assert.equal(loadConfig({}).WEBHOOK_SECRET, undefined);
  assert.throws(
    () => loadConfig({ HTTP_ALLOW_HOSTS: 'localhost,http://x/', WEBHOOK_SECRET: 'secret' }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.match(err.message, /^HTTP_ALLOW_HOSTS .*"http:\/\/x\/"/m);
      assert.match(err.message, /^WEBHOOK_SECRET must start with "whsec_"/m);
      return true;
    },
  );
  const bad = spawnSync(process.execPath, [MAIN], {
    env: { ...process.env, WEBHOOK_SECRET: 'whsec_!!' },
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr + bad.stdout, /WEBHOOK_SECRET/);
});

test('EXTERNAL_KINDS: a list of kind names, none built in, none twice; EXTERNAL_LEASE_MS bounded', () => {
  assert.equal(loadConfig({}).EXTERNAL_KINDS, undefined);
  assert.equal(loadConfig({}).EXTERNAL_LEASE_MS, 30_000);
  assert.deepEqual(loadConfig({ EXTERNAL_KINDS: ' reverse, pdf.render ,,' }).EXTERNAL_KINDS, [
    'reverse',
    'pdf.render',
  ]);
  for (const [raw, why] of [
    ['noop', /built-in kind "noop"/],
    ['a,simulate', /built-in kind "simulate"/],
    ['a b', /kind names/],
    ['-x', /kind names/],
    ['a,a', /names "a" twice/],
    [',', /at least one kind/],
  ] as const) {
    assert.throws(
      () => loadConfig({ EXTERNAL_KINDS: raw }),
      (err: unknown) =>
        err instanceof InvalidConfigError && /^EXTERNAL_KINDS /.test(err.message) && why.test(err.message),
      raw,
    );
  }
  assert.throws(() => loadConfig({ EXTERNAL_LEASE_MS: '999' }), InvalidConfigError);
});
