import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

interface Task {
  id: string;
  state: string;
  attempt: number;
  result: unknown;
  error: { type: string; message: string } | null;
  progress: { percent: number | null; message: string | null } | null;
}

let db: TestDatabase;
let taskd: ServerProcess;
let site: Server;
let siteUrl: string;
let tmp: string;

before(async () => {
  db = await createTestDatabase();
  taskd = await startServer({ DATABASE_URL: db.url, HANDLERS_DIR: 'examples/handlers', LOG_LEVEL: 'debug' });
  site = createServer((req, res) => {
    if (req.url === '/page') {
      res.setHeader('content-type', 'text/html');
      res.end(
        '<html><head><title> A  small page </title><style>p{}</style></head><body><p>one two three</p></body></html>',
      );
    } else {
      res.statusCode = 404;
      res.end('gone');
    }
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  mkdirSync('.tmp', { recursive: true });
  tmp = mkdtempSync(path.resolve('.tmp/examples-'));
});

after(async () => {
  await taskd?.close();
  await new Promise((resolve) => site?.close(resolve));
  await db?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function create(body: unknown): Promise<{ status: number; task: Task & Record<string, unknown> }> {
  const res = await fetch(`${taskd.url}/v1/tasks?wait=30`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, task: (await res.json()) as Task & Record<string, unknown> };
}

test('fetch-summary fetches a real page: title, size and word count; a 404 fails without a retry', async () => {
  const { task } = await create({ kind: 'fetch-summary', input: { url: `${siteUrl}/page` } });
  assert.equal(task.state, 'completed');
  const page =
    '<html><head><title> A  small page </title><style>p{}</style></head><body><p>one two three</p></body></html>';
  assert.deepEqual(task.result, {
    url: `${siteUrl}/page`,
    status: 200,
    title: 'A small page',
    bytes: Buffer.byteLength(page),
    words: 6,
  });
  const missing = await create({ kind: 'fetch-summary', input: { url: `${siteUrl}/nothing` } });
  assert.equal(missing.task.state, 'failed');
  assert.equal(missing.task.attempt, 1);
  assert.match(missing.task.error!.message, /answered 404/);
  const bad = await create({ kind: 'fetch-summary', input: { url: 'ftp://example.com/' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.task.code, 'invalid_input');
});

test('hash-file hashes a large file in a thread, with progress', async () => {
  const file = path.join(tmp, 'big.bin');
  const data = randomBytes(8 << 20);
  writeFileSync(file, data);
  const { task } = await create({ kind: 'hash-file', input: { path: file } });
  assert.equal(task.state, 'completed');
  assert.deepEqual(task.result, {
    path: file,
    bytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
  });
  assert.deepEqual(
    [task.progress?.percent, task.progress?.message],
    [100, `${data.length} of ${data.length} bytes`],
  );
  // It ran in a thread (started on demand: no other kind here uses one).
  await taskd.waitForEvent('handler_thread.started');
  const gone = await create({ kind: 'hash-file', input: { path: path.join(tmp, 'absent') } });
  assert.equal(gone.task.state, 'failed');
  assert.match(gone.task.error!.message, /ENOENT/);
});
