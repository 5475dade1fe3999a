// The cluster harness's handler: sleeps for `input.ms`, then records the run it completed (task id, attempt and
// the host it ran on) as one line appended to CLUSTER_RECORD_FILE, just before it returns. The harness counts
// these lines against the completions the database holds: a run recorded here whose outcome the database did
// not take is a late outcome that was fenced off.
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const file = process.env.CLUSTER_RECORD_FILE;
const host = process.env.CLUSTER_HOST ?? '?';

export default {
  maxAttempts: 3,
  async run(input, ctx) {
    const ms = typeof input?.ms === 'number' ? input.ms : 0;
    // The signal is ignored on purpose: a host cut off from the database does not know that its runs were
    // recovered elsewhere, and its handlers finish as they would.
    if (ms > 0) await sleep(ms);
    if (file) appendFileSync(file, `${ctx.taskId} ${ctx.attempt} ${host}\n`);
    return { host, attempt: ctx.attempt };
  },
};
