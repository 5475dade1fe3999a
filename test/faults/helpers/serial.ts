import pg from 'pg';
import { adminUrl } from '../../helpers/db.js';

/** Any constant: the same for every fault scenario file. */
const FAULT_SUITE_LOCK = 0x7461736b66; // "taskf"

/**
 * The test runner starts several files at once. Fault scenarios measure timing and load on a small machine, so
 * they take turns: each holds a session-level advisory lock on the test server for as long as it runs.
 * Returns the release function (for the `after` hook).
 */
export async function runAlone(): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: adminUrl(), application_name: 'taskd-fault-lock' });
  client.on('error', () => {});
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1)', [FAULT_SUITE_LOCK]);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await client.query('SELECT pg_advisory_unlock($1)', [FAULT_SUITE_LOCK]).catch(() => {});
    await client.end().catch(() => {});
  };
}
