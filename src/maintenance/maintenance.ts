import type { Heartbeat } from '../engine/heartbeat.js';
import type { EventBus } from '../events/bus.js';
import { Periodic } from '../lifecycle/periodic.js';

export interface MaintenanceJob {
  name: string;
  everyMs: number;
  /** Delay of the first run after this process becomes leader. */
  firstAfterMs?: number;
  run: (signal: AbortSignal) => Promise<unknown>;
}

/**
 * The jobs that one process runs for everyone (reaper, retention, later schedules), run only by the elected
 * leader (see Heartbeat): every process schedules them, and each run first checks that this process still leads.
 * A new leader runs them at once, so a dead leader's own tasks are recovered without waiting a whole interval.
 * `stop()` aborts the job in flight and waits for it; twice, or before `start()`, is fine.
 */
export class Maintenance {
  private readonly jobs: { job: MaintenanceJob; periodic: Periodic }[];
  private offElected: (() => void) | undefined;

  constructor(
    private readonly heartbeat: Heartbeat,
    private readonly bus: EventBus,
    jobs: readonly MaintenanceJob[],
  ) {
    this.jobs = jobs.map((job) => ({
      job,
      periodic: new Periodic(
        job.everyMs,
        async (signal) => {
          if (this.heartbeat.isLeader) await job.run(signal);
        },
        (err) => this.bus.emit('maintenance.failed', { job: job.name, err }),
      ),
    }));
  }

  start(): void {
    if (this.offElected) return;
    this.offElected = this.bus.on('leader.elected', () =>
      this.jobs.forEach(({ periodic }) => periodic.poke()),
    );
    for (const { job, periodic } of this.jobs) periodic.start(job.firstAfterMs ?? job.everyMs);
  }

  async stop(): Promise<void> {
    this.offElected?.();
    this.offElected ??= () => {};
    await Promise.all(this.jobs.map(({ periodic }) => periodic.stop()));
  }
}
