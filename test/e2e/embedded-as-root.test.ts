import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkResult, createTask } from '../helpers/api.js';
import { EmbeddedCleanup, ROOT_HOMES } from '../helpers/embedded.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess } from '../helpers/server.js';

/**
 * `npm ci && npm start` by root in a private folder: a clone in root's home, or in a `mktemp -d` folder (mode
 * 0700), the usual case in a container or a fresh VM. PostgreSQL refuses to run as root, so the embedded server
 * runs as the `postgres` user, which can reach neither the binaries in node_modules nor ./data there.
 */
const asRoot = process.getuid?.() === 0;

describe(
  'as root, in a private (0700) folder',
  { skip: asRoot ? false : 'needs root: only as root does the embedded server run as another user' },
  () => {
    const cleanup = new EmbeddedCleanup();
    const servers: ServerProcess[] = [];
    let folder: string | undefined;

    after(async () => {
      for (const s of servers) await s.close();
      await cleanup.run(servers);
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    test('npm start works, keeps its tasks across a restart, and changes no permission of the folder or DATA_DIR', async () => {
      mkdirSync('.tmp', { recursive: true });
      folder = mkdtempSync(path.resolve('.tmp', 'taskd-private-'));
      const dataDir = path.join(folder, 'data');
      mkdirSync(dataDir, { mode: 0o700 });
      // A runnable copy of the service, as a clone after `npm ci` would be, so that the PostgreSQL binaries too
      // sit under the private folder. Hard links: no time or space spent on node_modules.
      execFileSync('cp', ['-al', 'dist', 'migrations', 'package.json', 'node_modules', folder]);
      const modes = () => [folder!, dataDir].map((d) => statSync(d).mode);
      const before = modes();
      assert.equal(before[0]! & 0o777, 0o700);

      const port = await freePort();
      const start = async () => {
        // cwd is the folder and DATA_DIR unset: the default ./data, as `npm start` there would use.
        const s = new ServerProcess(
          { DATABASE_URL: undefined, DATA_DIR: undefined, EMBEDDED_PG_PORT: String(port) },
          { main: path.join(folder!, 'dist', 'main.js'), cwd: folder },
        );
        servers.push(s);
        return s.ready();
      };

      const first = await start();
      const created = await createTask(first.url, 'made in a private folder');
      assert.equal(created.status, 201);
      const read = await checkResult(first.url, created.body.task_id);
      assert.equal(read.status, 200);
      assert.equal(read.body.Task, 'made in a private folder');

      // One line says where the server's files are kept instead, and why.
      const placed = first.logs.find((l) => l.msg.startsWith('embedded PostgreSQL runs as user'));
      assert.ok(placed, `no log line says where the embedded server's files are:\n${first.tail()}`);
      assert.equal(path.dirname(String(placed.home)), ROOT_HOMES);
      // The copy of the binaries that the server's user runs is root's, and only root can change it.
      for (const p of [String(placed.binaries), path.join(String(placed.binaries), 'bin', 'postgres')]) {
        const s = statSync(p);
        assert.equal(s.uid, 0, `${p} is owned by root`);
        assert.equal(s.mode & 0o022, 0, `${p} is writable by root only`);
      }

      first.kill('SIGTERM');
      assert.equal((await first.exited).code, 0);
      assert.ok(first.logs.some((l) => l.msg === 'embedded PostgreSQL stopped'));

      const second = await start();
      const again = await checkResult(second.url, created.body.task_id);
      assert.equal(again.status, 200);
      assert.equal(again.body.Task, 'made in a private folder');
      second.kill('SIGTERM');
      assert.equal((await second.exited).code, 0);

      assert.deepEqual(modes(), before, 'no permission bit of the folder or of DATA_DIR changed');
    });
  },
);
