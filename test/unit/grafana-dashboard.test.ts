/**
 * docs/grafana-dashboard.json must only query metrics that taskd exposes: every metric name in every panel's
 * expression is looked up in a real scrape of the metrics registry (fed through the event bus as the process
 * feeds it), so a renamed or removed metric breaks this test rather than a dashboard.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { EventBus } from '../../src/events/bus.js';
import { Metrics } from '../../src/metrics/metrics.js';

/** Every name a scrape exposes: the metrics of its `# TYPE` lines, with a histogram's series suffixes. */
function exposedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name!}${s}`);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(`${name!}${s}`);
  }
  return names;
}

/** The metric names an expression reads: identifiers with one of the prefixes taskd and its libraries use. */
function metricNames(expr: string): string[] {
  // Label matchers' values are strings: drop them first so that a value is never taken for a name.
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...bare.matchAll(/\b(?:taskd|process|nodejs)_[a-zA-Z0-9_]+/g)].map((m) => m[0]);
}

test('every expression of docs/grafana-dashboard.json reads only metrics that /metrics exposes', async () => {
  const dashboard = JSON.parse(
    readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
  ) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  // A real pool that never connects: the gauges read its counters, which are 0.
  const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
  const metrics = new Metrics(new EventBus(), { pool });
  try {
    const exposed = exposedNames(await metrics.scrape());
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    assert.ok(exprs.length >= 10, 'the dashboard has its panels');
    const unknown: string[] = [];
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `panel "${panel}" reads no metric of taskd: ${expr}`);
      for (const n of names) if (!exposed.has(n)) unknown.push(`${panel}: ${n}`);
    }
    assert.deepEqual(unknown, [], `the dashboard reads metrics that are not exposed:\n${unknown.join('\n')}`);
  } finally {
    metrics.close();
    await pool.end();
  }
});
