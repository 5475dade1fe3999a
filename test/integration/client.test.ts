import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { SCHEMA_FILE, generateClientTypes } from '../../scripts/client-types.js';
import { createTaskdClient } from '../../src/client/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

let db: TestDatabase;
let server: ServerProcess;
before(async () => {
  db = await createTestDatabase();
  server = await startServer({ DATABASE_URL: db.url });
});
after(async () => {
  await server?.close();
  await db?.drop();
});

test('the committed client types are those of the served OpenAPI document (run npm run generate:client)', async () => {
  assert.equal(await readFile(SCHEMA_FILE, 'utf8'), await generateClientTypes());
});

test('the typed client creates, waits for and reads tasks, and returns errors with their code', async () => {
  const taskd = createTaskdClient({ baseUrl: server.url });
  const created = await taskd.POST('/v1/tasks', { body: { kind: 'noop', input: { n: 1 } } });
  assert.equal(created.response.status, 201);
  const id = created.data!.id;
  const done = await taskd.GET('/v1/tasks/{id}', { params: { path: { id }, query: { wait: 10 } } });
  assert.equal(done.data?.state, 'completed');
  assert.deepEqual(done.data?.input, { n: 1 });
  const missing = await taskd.GET('/v1/tasks/{id}', {
    params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
  });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.code, 'task_not_found');
});
