import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';
import type { LogLine } from '../helpers/server.js';
import { freePort } from '../helpers/ports.js';

const lines: LogLine[] = [];
const log = createLogger(
  'info',
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  }),
);
let dataDir: string | undefined;
let started: EmbeddedPostgres | undefined;

after(async () => {
  await started?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function maxConnections(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number(
      (await client.query<{ max_connections: string }>('SHOW max_connections')).rows[0]!.max_connections,
    );
  } finally {
    await client.end();
  }
}

test('the embedded server gets the max_connections asked for; a reused server that has fewer says so', async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'taskd-embedded-max-'));
  // As root the server runs as the postgres user: open the way in, so that the cluster stays in this folder.
  await chmod(dataDir, 0o755);
  started = await startEmbeddedPostgres({ dataDir, port: await freePort(), maxConnections: 123, log });
  assert.equal(await maxConnections(started.url), 123);

  // Another start on the same DATA_DIR finds the server running (as after kill -9 of the service) and reuses it:
  // its max_connections only changes with a restart.
  const reused = await startEmbeddedPostgres({ dataDir, port: await freePort(), maxConnections: 150, log });
  assert.equal(reused.port, started.port);
  const warning = lines.find((l) =>
    l.msg.startsWith('the reused embedded PostgreSQL allows 123 connections'),
  );
  assert.ok(warning, `no warning about the reused server's size:\n${lines.map((l) => l.msg).join('\n')}`);
  assert.equal(warning.level, 40);
  assert.equal(await maxConnections(reused.url), 123);

  // Asked for no more than it has, a reused server is not worth a word.
  lines.length = 0;
  await startEmbeddedPostgres({ dataDir, port: started.port, maxConnections: 100, log });
  assert.equal(lines.filter((l) => l.msg.startsWith('the reused embedded PostgreSQL allows')).length, 0);
});
