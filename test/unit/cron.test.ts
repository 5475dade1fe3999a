import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalTimezone,
  InvalidCronError,
  parseCron,
  parseLiveCron,
  planTick,
} from '../../src/schedules/cron.js';

const iso = (dates: (Date | null)[]) => dates.map((d) => d?.toISOString() ?? null);

test('ticks in Europe/Berlin follow its wall clock across both DST changes', () => {
  // 29 March 2026: 02:00 CET jumps to 03:00 CEST. A daily 02:30 falls into the gap that day and runs at the
  // first valid time after it; the hours around the change are an hour apart in UTC before and after.
  const daily = parseCron('30 2 * * *', 'Europe/Berlin');
  assert.deepEqual(iso(daily.nextRuns(4, new Date('2026-03-27T00:00:00Z'))), [
    '2026-03-27T01:30:00.000Z', // 02:30 CET
    '2026-03-28T01:30:00.000Z',
    '2026-03-29T01:00:00.000Z', // no 02:30 that day: 03:00 CEST
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
  ]);
  const nine = parseCron('0 9 * * *', 'Europe/Berlin');
  assert.deepEqual(iso(nine.nextRuns(2, new Date('2026-03-28T12:00:00Z'))), [
    '2026-03-29T07:00:00.000Z',
    '2026-03-30T07:00:00.000Z',
  ]);
  // 25 October 2026: 03:00 CEST goes back to 02:00 CET. 09:00 is 07:00 UTC before, 08:00 UTC after; a daily
  // 02:30, which happens twice that night, runs once.
  assert.deepEqual(iso(nine.nextRuns(2, new Date('2026-10-24T12:00:00Z'))), [
    '2026-10-25T08:00:00.000Z',
    '2026-10-26T08:00:00.000Z',
  ]);
  assert.deepEqual(iso(daily.nextRuns(3, new Date('2026-10-24T12:00:00Z'))), [
    '2026-10-25T00:30:00.000Z',
    '2026-10-26T01:30:00.000Z',
    '2026-10-27T01:30:00.000Z',
  ]);
  // The same expression in UTC knows no DST.
  assert.deepEqual(iso(parseCron('30 2 * * *', 'UTC').nextRuns(2, new Date('2026-03-28T12:00:00Z'))), [
    '2026-03-29T02:30:00.000Z',
    '2026-03-30T02:30:00.000Z',
  ]);
});

test('a leading seconds field ticks every second; the latest tick at or before an instant includes it', () => {
  const everySecond = parseCron('* * * * * *', 'UTC');
  assert.deepEqual(iso(everySecond.nextRuns(2, new Date('2026-12-02T00:00:10.400Z'))), [
    '2026-12-02T00:00:11.000Z',
    '2026-12-02T00:00:12.000Z',
  ]);
  const everyFive = parseCron('*/5 * * * * *', 'UTC');
  assert.deepEqual(iso([everyFive.latestAtOrBefore(new Date('2026-12-02T00:00:10.000Z'))]), [
    '2026-12-02T00:00:10.000Z',
  ]);
  assert.deepEqual(iso([everyFive.latestAtOrBefore(new Date('2026-12-02T00:00:14.999Z'))]), [
    '2026-12-02T00:00:10.000Z',
  ]);
});

test('missed ticks: late within the grace each runs; later, only the latest due runs and the rest are skipped', () => {
  const everyMinute = parseCron('* * * * *', 'UTC');
  const due = new Date('2026-12-02T10:00:00Z');
  // 5 s late, grace 10 s: this tick runs, and the next is the one after it.
  assert.deepEqual(planTick(everyMinute, due, new Date('2026-12-02T10:00:05Z'), 10_000), {
    tick: due,
    skipped: false,
    next: new Date('2026-12-02T10:01:00Z'),
  });
  // Everything was down for an hour: the latest tick due (11:00) runs once, the 60 before it are skipped.
  const plan = planTick(everyMinute, due, new Date('2026-12-02T11:00:30Z'), 10_000);
  assert.deepEqual(iso([plan.tick, plan.next]), ['2026-12-02T11:00:00.000Z', '2026-12-02T11:01:00.000Z']);
  assert.equal(plan.skipped, true);
  // Past the grace but no later tick due yet: the tick itself still runs, once.
  const hourly = parseCron('0 * * * *', 'UTC');
  const late = planTick(hourly, due, new Date('2026-12-02T10:20:00Z'), 10_000);
  assert.deepEqual([late.tick, late.skipped], [due, false]);
});

test('bad expressions and time zones are refused, saying which field and why', () => {
  const refused = (fn: () => unknown, path: string, message: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidCronError);
      assert.equal(err.path, path);
      assert.match(err.message, message);
      return true;
    });
  refused(() => parseCron('* * * *', 'UTC'), '/cron', /needs 5 fields .* or 6 .*; got 4$/);
  refused(() => parseCron('* * * * * * *', 'UTC'), '/cron', /got 7$/);
  refused(() => parseCron('61 * * * *', 'UTC'), '/cron', /./);
  refused(() => parseLiveCron('0 0 30 2 *', 'UTC', new Date()), '/cron', /never fires/);
  refused(() => canonicalTimezone('Mars/Olympus_Mons'), '/timezone', /IANA time zone/);
  assert.equal(canonicalTimezone('utc'), 'UTC');
  assert.equal(canonicalTimezone('Europe/Berlin'), 'Europe/Berlin');
});
