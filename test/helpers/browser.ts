import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor } from './wait.js';

/** Debian's Chromium (`apt-get install chromium`), driven by playwright-core: no browser download. */
export const CHROMIUM = process.env.TASKD_TEST_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Everything a page reported as an error: console errors and uncaught exceptions. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** A small v1 client for seeding: real HTTP, as any client would call it. */
export async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(token && { authorization: `Bearer ${token}` }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface TaskLike {
  id: string;
  state: string;
  attempt: number;
}

/**
 * Data for the dashboard to show, on a server started with SIMULATE_MIN_MS long enough that `simulate` tasks
 * keep running: 25 completed noop tasks in `default`; in `reports`, 3 that fail (their deadline is shorter than
 * the handler) and one that runs.
 */
export async function seedDashboard(base: string) {
  const completed = await api<{ tasks: TaskLike[] }>(base, 'POST', '/v1/tasks/batch', {
    tasks: Array.from({ length: 25 }, (_, i) => ({ kind: 'noop', input: { order: i } })),
  });
  const failing = await api<{ tasks: TaskLike[] }>(base, 'POST', '/v1/tasks/batch', {
    tasks: Array.from({ length: 3 }, (_, i) => ({
      kind: 'simulate',
      queue: 'reports',
      input: { report: i },
      timeout_ms: 50,
      max_attempts: 1,
    })),
  });
  const running = await api<TaskLike>(base, 'POST', '/v1/tasks', {
    kind: 'simulate',
    queue: 'reports',
    input: { report: 'monthly' },
  });
  const read = (id: string) => api<TaskLike>(base, 'GET', `/v1/tasks/${id}`);
  await waitFor(
    'the seeded tasks to settle',
    async () => {
      const states = await Promise.all(
        [...completed.tasks, ...failing.tasks, running].map(async (t) => (await read(t.id)).state),
      );
      return (
        states.slice(0, 25).every((s) => s === 'completed') &&
        states.slice(25, 28).every((s) => s === 'failed') &&
        states[28] === 'running'
      );
    },
    { timeoutMs: 30_000 },
  );
  return {
    completed: completed.tasks.map((t) => t.id),
    failed: failing.tasks.map((t) => t.id),
    running: running.id,
  };
}

/** Settings for a server the dashboard is shown on: simulate tasks run for a long while. */
export const DASHBOARD_ENV = { SIMULATE_MIN_MS: '60000', SIMULATE_MAX_MS: '90000' };
