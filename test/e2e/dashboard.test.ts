import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { api, collectErrors, DASHBOARD_ENV, launchChromium, seedDashboard } from '../helpers/browser.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** The task ids of the rows shown. */
async function idsOf(rows: Locator): Promise<(string | null)[]> {
  const ids: (string | null)[] = [];
  for (let i = 0; i < (await rows.count()); i++) ids.push(await rows.nth(i).getAttribute('data-task'));
  return ids;
}

interface TaskLike {
  id: string;
  state: string;
  attempt: number;
}

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real taskd process with
 * data: every view, its actions, live updates, the token form, and no console error anywhere. Screenshots go
 * to a temporary folder only (docs/screenshots/ is written by `npm run screenshots`).
 */
describe('the dashboard, in Chromium', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let seeded: Awaited<ReturnType<typeof seedDashboard>>;
  const shots = mkdtempSync(path.join(tmpdir(), 'taskd-dashboard-'));
  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, ...DASHBOARD_ENV });
    seeded = await seedDashboard(server.url);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = collectErrors(page);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
    rmSync(shots, { recursive: true, force: true });
  });

  test('/ui redirects to /ui/, whose page is revalidated and whose hashed assets are kept for good', async () => {
    const redirect = await fetch(`${server.url}/ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/ui/');
    const index = await fetch(`${server.url}/ui/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const js = await fetch(`${server.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /max-age=31536000, immutable/);
    // Nothing from elsewhere: every script and stylesheet is the server's own.
    assert.doesNotMatch(html, /(src|href)="https?:/);
  });

  test('overview shows the counts of each queue, the last hour and the workers', async () => {
    await page.goto(`${server.url}/ui/`);
    const defaultCompleted = page.locator(
      '[data-testid=overview-queues] tr[data-queue=default] td[data-state=completed]',
    );
    await defaultCompleted.filter({ hasText: /^25$/ }).waitFor();
    await page
      .locator('[data-testid=overview-queues] tr[data-queue=reports] td[data-state=failed]')
      .filter({ hasText: /^3$/ })
      .waitFor();
    await page.locator('[data-testid=stats-totals]').filter({ hasText: 'completed25' }).waitFor();
    await page.locator('[data-testid=overview-workers]').filter({ hasText: '1 live worker' }).waitFor();
    // Database health, one row per check and subject, with its status.
    await page
      .locator('[data-testid=health] tr')
      .filter({ hasText: 'dead tuples' })
      .filter({ hasText: 'taskd.tasks' })
      .filter({ hasText: /ok|warn/ })
      .waitFor();
    await page.locator('[data-testid=live-state]').filter({ hasText: 'live' }).waitFor();
    await shot('overview');
  });

  test('tasks: filter by state, by kind, page on, and find one by id', async () => {
    await page.goto(`${server.url}/ui/#/tasks`);
    await page.locator('select[name=state]').selectOption('failed');
    const rows = page.locator('[data-testid=task-table] tbody tr[data-task]');
    await waitFor('three failed tasks listed', async () => (await rows.count()) === 3);
    for (const id of seeded.failed) assert.equal(await page.locator(`tr[data-task="${id}"]`).count(), 1);

    await page.locator('select[name=state]').selectOption('');
    await page.locator('input[name=kind]').fill('noop');
    await page.locator('input[name=kind]').press('Enter');
    await waitFor('a full first page of noop tasks', async () => (await rows.count()) === 20);
    const firstPage = await idsOf(rows);
    await page.locator('[data-testid=next-page]').click();
    await waitFor('the second page: the other five', async () => (await rows.count()) === 5);
    const secondPage = await idsOf(rows);
    assert.deepEqual(
      [...firstPage, ...secondPage].sort(),
      [...seeded.completed].sort(),
      'the two pages hold every noop task once',
    );
    await shot('tasks');

    await page.locator('input[name=search]').fill(seeded.running);
    await page.locator('input[name=search]').press('Enter');
    await page.locator('[data-testid=task-state]').filter({ hasText: 'running' }).waitFor();
    assert.match(page.url(), new RegExp(`#/tasks/${seeded.running}$`));
  });

  test('task detail: attempts, cancel a running task, retry a failed one', async () => {
    await page.goto(`${server.url}/ui/#/tasks/${seeded.running}`);
    await page.locator('[data-testid=attempts] li').filter({ hasText: 'running' }).waitFor();
    await page.locator('[data-testid=task-input]').filter({ hasText: '"monthly"' }).waitFor();
    await shot('task-running');
    await page.locator('[data-testid=cancel]').click();
    await page.locator('[data-testid=task-state]').filter({ hasText: 'cancelled' }).waitFor();
    assert.equal((await api<TaskLike>(server.url, 'GET', `/v1/tasks/${seeded.running}`)).state, 'cancelled');

    const failed = seeded.failed[0]!;
    await page.goto(`${server.url}/ui/#/tasks/${failed}`);
    await page.locator('[data-testid=task-error]').filter({ hasText: 'timeout' }).waitFor();
    await page.locator('[data-testid=attempts] li').filter({ hasText: 'failed' }).waitFor();
    await shot('task-failed');
    await page.locator('[data-testid=retry]').click();
    // It runs again (and, its deadline as short as before, fails again): a second attempt in the timeline.
    await page.locator('[data-testid=attempts] li').filter({ hasText: '#2' }).waitFor();
    assert.equal((await api<TaskLike>(server.url, 'GET', `/v1/tasks/${failed}`)).attempt, 2);
  });

  test('queues: pause, resume, set a concurrency limit', async () => {
    await page.goto(`${server.url}/ui/#/queues`);
    const row = page.locator('[data-testid=queue-table] tr[data-queue=reports]');
    const queue = async () =>
      (
        await api<{ queues: { name: string; paused: boolean; concurrency: number | null }[] }>(
          server.url,
          'GET',
          '/v1/queues',
        )
      ).queues.find((q) => q.name === 'reports')!;
    await row.locator('[data-testid=toggle-pause]').filter({ hasText: 'Pause' }).click();
    await row.locator('.badge').filter({ hasText: 'paused' }).waitFor();
    assert.equal((await queue()).paused, true);
    await shot('queues');
    await row.locator('[data-testid=toggle-pause]').filter({ hasText: 'Resume' }).click();
    await row.locator('[data-testid=toggle-pause]').filter({ hasText: 'Pause' }).waitFor();
    assert.equal((await queue()).paused, false);
    await row.locator('input[name=concurrency]').fill('3');
    await row.locator('button[type=submit]').click();
    await row.locator('[data-testid=concurrency]').filter({ hasText: /^3$/ }).waitFor();
    assert.equal((await queue()).concurrency, 3);
  });

  test('bulk retry of the failed tasks, after a dialog that says how many', async () => {
    await waitFor('every failing task failed again', async () => {
      const { tasks } = await api<{ tasks: TaskLike[] }>(server.url, 'GET', '/v1/tasks?state=failed');
      return tasks.length === 3;
    });
    const before = await Promise.all(
      seeded.failed.map(async (id) => (await api<TaskLike>(server.url, 'GET', `/v1/tasks/${id}`)).attempt),
    );
    await page.goto(`${server.url}/ui/#/tasks?state=failed`);
    await page.locator('[data-testid=bulk-retry]').click();
    const dialog = page.locator('[data-testid=bulk-confirm]');
    await dialog.filter({ hasText: 'Retry 3 tasks?' }).waitFor();
    await shot('bulk-confirm');
    await dialog.locator('[data-testid=bulk-confirm-yes]').click();
    await page.locator('[data-testid=bulk-done]').filter({ hasText: '3 tasks retried.' }).waitFor();
    // Queued again, each runs once more.
    await waitFor('each retried task to run again', async () => {
      const after = await Promise.all(
        seeded.failed.map(async (id) => (await api<TaskLike>(server.url, 'GET', `/v1/tasks/${id}`)).attempt),
      );
      return after.every((a, i) => a > before[i]!);
    });
  });

  test('a task created over HTTP appears on the open page without a reload', async () => {
    await page.goto(`${server.url}/ui/#/tasks`);
    await page.locator('[data-testid=live-state]').filter({ hasText: 'live' }).waitFor();
    await page.locator('[data-testid=task-table]').waitFor();
    const loads: string[] = [];
    page.on('load', () => loads.push(page.url()));
    const created = await api<TaskLike>(server.url, 'POST', '/v1/tasks', { kind: 'noop', queue: 'live' });
    await page.locator(`tr[data-task="${created.id}"]`).waitFor({ timeout: 15_000 });
    assert.deepEqual(loads, [], 'the page was not reloaded');
  });

  test('workers and schedules views', async () => {
    await page.goto(`${server.url}/ui/#/workers`);
    await page.locator('[data-testid=worker-table] .badge').filter({ hasText: 'leader' }).waitFor();
    await shot('workers');
    await api(server.url, 'PUT', '/v1/schedules/nightly', {
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      task: { kind: 'noop' },
    });
    await page.goto(`${server.url}/ui/#/schedules`);
    const row = page.locator('[data-testid=schedule-table] tr').filter({ hasText: 'nightly' });
    await row.filter({ hasText: 'Europe/Berlin' }).filter({ hasText: 'active' }).waitFor();
    await shot('schedules');
    await row.locator('button', { hasText: 'Pause' }).click();
    await row.filter({ hasText: 'paused' }).waitFor();
    const listed = await api<{ schedules: { name: string; paused: boolean }[] }>(
      server.url,
      'GET',
      '/v1/schedules',
    );
    assert.deepEqual(
      listed.schedules.map((s) => [s.name, s.paused]),
      [['nightly', true]],
    );
  });

  test('no page logged an error', () => {
    assert.deepEqual(errors, []);
  });
});

describe('the dashboard with API_TOKENS', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, API_TOKENS: 'right-token-0123456789' });
    await api(server.url, 'POST', '/v1/tasks', { kind: 'noop' }, 'right-token-0123456789');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
  });

  test('shows nothing without a token, refuses a wrong one, and shows the dashboard with a valid one', async () => {
    // The static files need no token, and carry no data.
    const index = await fetch(`${server.url}/ui/`);
    assert.equal(index.status, 200);
    assert.equal((await fetch(`${server.url}/v1/stream`)).status, 401);

    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(`${server.url}/ui/`);
    await page.locator('[data-testid=token-form]').waitFor();
    assert.equal(await page.locator('[data-testid=overview-queues]').count(), 0);
    assert.equal(await page.locator('nav').count(), 0);

    await page.locator('input[name=token]').fill('wrong-token-0123456789');
    await page.locator('input[name=token]').press('Enter');
    await page.locator('[data-testid=token-refused]').waitFor();
    assert.equal(await page.locator('[data-testid=overview-queues]').count(), 0);

    await page.locator('input[name=token]').fill('right-token-0123456789');
    await page.locator('input[name=token]').press('Enter');
    await page.locator('[data-testid=overview-queues] tr[data-queue=default]').waitFor();
    await page.locator('[data-testid=live-state]').filter({ hasText: 'live' }).waitFor();
    assert.equal(await page.evaluate('sessionStorage.getItem("taskd.token")'), 'right-token-0123456789');

    // The browser reports each refused request as a failed resource load; those 401s are the point of this
    // test. Anything else is an error.
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource: the server responded with a status of 401/.test(e)),
      [],
    );
    await page.close();
  });
});
