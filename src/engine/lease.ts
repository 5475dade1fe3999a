import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeDbError } from '../db/pool.js';
import type { TaskStore } from '../db/store.js';
import type { Logger } from '../logger.js';
import { Periodic } from './periodic.js';

/**
 * This process's registration as a worker. Every running task points at the worker id, so one heartbeat
 * statement per interval keeps the leases of all of them, however many there are. If a heartbeat finds the row
 * gone, another process has declared this one dead and failed its tasks: `onLost` is called, and the process
 * registers again under a new id.
 */
export class Lease {
  private id = '';
  private readonly heartbeat: Periodic;

  constructor(
    private readonly store: TaskStore,
    private readonly leaseMs: number,
    private readonly onLost: (lostId: string) => void,
    private readonly log: Logger,
  ) {
    // Three heartbeats per lease: one can fail or run late and the lease still holds.
    this.heartbeat = new Periodic('heartbeat', Math.floor(leaseMs / 3), () => this.renew(), log);
  }

  /** The worker id that current claims are made under. */
  get workerId(): string {
    return this.id;
  }

  async start(): Promise<void> {
    await this.register();
    this.heartbeat.start();
  }

  async stop(): Promise<void> {
    await this.heartbeat.stop();
  }

  private async register(): Promise<void> {
    const id = randomUUID();
    await this.store.workerRegister(id, hostname(), process.pid, this.leaseMs);
    this.id = id;
    this.log.info({ worker_id: id, lease_ms: this.leaseMs }, 'worker registered');
  }

  private async renew(): Promise<void> {
    let held: boolean;
    try {
      held = await this.store.workerHeartbeat(this.id, this.leaseMs);
    } catch (err) {
      // Keep running: outcomes are fenced, so if the lease does expire meanwhile nothing is overwritten.
      this.log.warn({ err: describeDbError(err), worker_id: this.id }, 'heartbeat failed');
      return;
    }
    if (held) return;
    const lost = this.id;
    this.log.error({ worker_id: lost }, 'lease lost: another process declared this worker dead');
    this.onLost(lost);
    await this.register();
  }
}
