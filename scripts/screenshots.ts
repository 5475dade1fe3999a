/**
 * `npm run screenshots`: writes docs/screenshots/*.png, one per view of the dashboard, from a real taskd process
 * seeded with tasks (the same data as the browser test). Needs a PostgreSQL server: TASKD_TEST_ADMIN_URL, or the
 * one on 127.0.0.1:5432; a database of its own is created there and dropped afterwards.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { api, DASHBOARD_ENV, launchChromium, seedDashboard } from '../test/helpers/browser.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startServer } from '../test/helpers/server.js';

process.env.TASKD_TEST_ADMIN_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const OUT = path.resolve('docs/screenshots');

const db = await createTestDatabase();
const server = await startServer({ DATABASE_URL: db.url, ...DASHBOARD_ENV });
const browser = await launchChromium();
try {
  const seeded = await seedDashboard(server.url);
  // A paused queue with a limit, for the queues view.
  await api(server.url, 'PATCH', '/v1/queues/reports', { concurrency: 4 });
  await api(server.url, 'PATCH', '/v1/queues/mail', { paused: true });
  await api(server.url, 'POST', '/v1/tasks', { kind: 'noop', queue: 'mail', input: { to: 'a@example.com' } });
  // Two schedules, one of them paused, for the schedules view.
  await api(server.url, 'PUT', '/v1/schedules/nightly-report', {
    cron: '30 2 * * *',
    timezone: 'Europe/Berlin',
    task: { kind: 'noop', queue: 'reports' },
  });
  await api(server.url, 'PUT', '/v1/schedules/cleanup', {
    cron: '*/15 * * * *',
    timezone: 'UTC',
    task: { kind: 'noop' },
    paused: true,
  });
  mkdirSync(OUT, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const views: [string, string, string][] = [
    ['overview', '#/', '[data-testid=health] tr'],
    ['tasks', '#/tasks', '[data-testid=task-table] tr[data-task]'],
    ['task-detail', `#/tasks/${seeded.failed[0]}`, '[data-testid=attempts] li'],
    ['task-running', `#/tasks/${seeded.running}`, '[data-testid=attempts] li'],
    ['queues', '#/queues', '[data-testid=queue-table] tr[data-queue]'],
    ['workers', '#/workers', '[data-testid=worker-table] .badge'],
    ['schedules', '#/schedules', '[data-testid=schedule-table] td.mono'],
  ];
  for (const [name, hash, ready] of views) {
    await page.goto(`${server.url}/ui/${hash}`);
    await page.locator(ready).first().waitFor();
    await page.locator('[data-testid=live-state]').filter({ hasText: 'live' }).waitFor();
    await page.screenshot({ path: path.join(OUT, `${name}.png`) });
    console.log(`wrote docs/screenshots/${name}.png`);
  }
  await page.goto(`${server.url}/ui/#/tasks?state=failed`);
  await page.locator('[data-testid=bulk-retry]').click();
  await page.locator('[data-testid=bulk-confirm]').waitFor();
  await page.screenshot({ path: path.join(OUT, 'bulk-retry.png') });
  console.log('wrote docs/screenshots/bulk-retry.png');
} finally {
  await browser.close();
  await server.close();
  await db.drop();
}
