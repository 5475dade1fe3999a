import type { TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { Periodic } from '../lifecycle/periodic.js';

const SAMPLE_DEADLINE_MS = 5000;

/**
 * Samples the backlog (tasks by queue and state, the oldest queued task's age) and the live workers with one
 * statement (`metricsSample`) every interval, and announces it as `queues.sampled`, which the metrics gauges
 * follow.
 *
 * Every process samples for itself rather than the maintenance leader alone: each instance's /metrics is then
 * complete and fresh whichever instance is scraped, it does not go stale or jump when the leadership moves, and
 * a scrape never waits on the database. The cost is one cheap statement per instance per interval (it counts
 * only tasks not yet ended, through the partial indexes of those states), instead of one per scrape and per
 * queue. Dashboards aggregate these gauges with max() across instances, not sum().
 */
export class QueueSampler {
  private readonly periodic: Periodic;

  constructor(store: TaskStore, bus: EventBus, intervalMs: number) {
    this.periodic = new Periodic(
      intervalMs,
      async (signal) =>
        bus.emit('queues.sampled', await store.metricsSample({ deadlineMs: SAMPLE_DEADLINE_MS, signal })),
      (err) => bus.emit('sample.failed', { sampler: 'queues', err }),
    );
  }

  start(): void {
    this.periodic.start(0);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
