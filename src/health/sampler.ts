import type { ReadReplica } from '../db/read-replica.js';
import type { TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { Periodic } from '../lifecycle/periodic.js';
import { checkKey, evaluate, type HealthReport, type HealthThresholds } from './checks.js';

/** How long one sample may take before it is given up (the statistics views answer in milliseconds). */
const SAMPLE_DEADLINE_MS = 5000;

/**
 * Samples the database's health every interval, in every process: the metrics gauges of each instance stay
 * fresh by themselves (`health.sampled`), whichever instance Prometheus scrapes. A check that goes over its
 * threshold is announced once (`health.warn`), when it crosses, and once more when it is back under it
 * (`health.recovered`): a warning per crossing, not per sample or per request.
 */
export class HealthSampler {
  private readonly periodic: Periodic;
  /** The checks over their threshold at the last sample, by checkKey. */
  private readonly warning = new Set<string>();

  constructor(
    private readonly store: TaskStore,
    private readonly bus: EventBus,
    private readonly thresholds: HealthThresholds,
    intervalMs: number,
    /** This process's read replica, whose lag is a check of its own. */
    private readonly readReplica?: ReadReplica,
  ) {
    this.periodic = new Periodic(
      intervalMs,
      (signal) => this.tick(signal),
      (err) => bus.emit('sample.failed', { sampler: 'health', err }),
    );
  }

  start(): void {
    this.periodic.start(0);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** A fresh report (GET /v1/health): sampled now, announcing nothing. */
  async report(signal?: AbortSignal): Promise<HealthReport> {
    const [sample, replica] = await Promise.all([
      this.store.healthSample({ deadlineMs: SAMPLE_DEADLINE_MS, signal }),
      this.readReplica?.refresh(signal),
    ]);
    return evaluate(sample, this.thresholds, new Date(), replica);
  }

  private async tick(signal: AbortSignal): Promise<void> {
    const report = await this.report(signal);
    this.bus.emit('health.sampled', { report });
    const now = new Set<string>();
    for (const check of report.checks) {
      const key = checkKey(check);
      const crossing = {
        check: check.name,
        subject: check.subject ?? undefined,
        value: check.value,
        unit: check.unit,
        threshold: check.threshold,
        holder: check.holder ? { ...check.holder } : undefined,
      };
      if (check.status === 'warn') {
        now.add(key);
        if (!this.warning.has(key)) this.bus.emit('health.warn', crossing);
      } else if (this.warning.has(key)) {
        this.bus.emit('health.recovered', crossing);
      }
    }
    // A check whose subject vanished (a table dropped) is no longer warning either.
    this.warning.clear();
    for (const key of now) this.warning.add(key);
  }
}
