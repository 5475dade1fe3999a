import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { CHANNELS } from '../../src/db/store.js';
import { EventBus } from '../../src/events/bus.js';
import { Notifier } from '../../src/notify/notifier.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A TCP proxy in front of PostgreSQL whose open connections can be frozen: bytes stop flowing both ways while the
 * sockets stay open, as on a half-open connection that delivers nothing and reports nothing.
 */
async function freezableProxy(target: URL) {
  const frozen = new Set<net.Socket>();
  const live = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    live.add(client);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (!frozen.has(client)) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      live.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    /** Stops every connection open now from delivering anything; new connections work. */
    freeze: () => live.forEach((c) => frozen.add(c)),
    close: () =>
      new Promise<void>((resolve) => {
        live.forEach((c) => c.destroy());
        server.close(() => resolve());
      }),
  };
}

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => db.drop());

test('a notification connection that silently stops delivering is noticed by its self-check and made anew', async () => {
  const url = new URL(db.url);
  const proxy = await freezableProxy(url);
  const viaProxy = new URL(db.url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const bus = new EventBus();
  const events: string[] = [];
  bus.on('notifier.connected', (e) => events.push(e.reconnect ? 'reconnected' : 'connected'));
  bus.on('notifier.lost', () => events.push('lost'));
  const notifier = new Notifier({ connectionString: viaProxy.toString(), bus, selfCheckMs: 200 });
  const heard: string[] = [];
  notifier.subscribe(CHANNELS.taskCreated, (payload) => heard.push(payload));
  let connects = 0;
  notifier.onConnect(() => connects++);
  notifier.start();
  try {
    await waitFor('connected', () => events.includes('connected'));
    await db.pool.query(`SELECT pg_notify('${CHANNELS.taskCreated}', 'before')`);
    await waitFor('heard before the freeze', () => heard.includes('before'));

    proxy.freeze();
    await waitFor('the silent connection noticed', () => events.includes('lost'), { timeoutMs: 5000 });
    await waitFor('listening again', () => events.includes('reconnected'), { timeoutMs: 5000 });
    assert.equal(
      connects,
      2,
      'subscribers are told each time it starts listening, to look for what they missed',
    );
    await db.pool.query(`SELECT pg_notify('${CHANNELS.taskCreated}', 'after')`);
    await waitFor('heard after the reconnect', () => heard.includes('after'));
  } finally {
    await notifier.stop();
    await proxy.close();
  }
});

test('stop ends the notifier at once, also while it is reconnecting, and leaves no timer', async () => {
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const bus = new EventBus();
  // Nothing listens on this port: the notifier keeps retrying with backoff.
  const dead = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
  let lost = 0;
  bus.on('notifier.lost', () => lost++);
  const notifier = new Notifier({ connectionString: `postgres://postgres@127.0.0.1:${dead}/x`, bus });
  notifier.start();
  await waitFor('retrying', () => lost >= 2);
  await notifier.stop();
  await notifier.stop();
  await waitFor(
    'no timer left',
    () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= timersBefore,
  );
});
