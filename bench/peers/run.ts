import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createDatabase, dropDatabase } from '../lib/pg.js';
import { ROOT } from '../lib/service.js';
import { log, sleep } from '../lib/util.js';

export const PEERS = ['graphile-worker', 'pg-boss', 'bullmq'] as const;
export type PeerName = (typeof PEERS)[number];

export interface PeerParams {
  enqueueCallers: number;
  enqueueMs: number;
  drainJobs: number;
  /** A second, larger drain (0: none), reported as drainLarge*. */
  drainJobsLarge: number;
  pickupCount: number;
  inflightJobs: number;
  inflightWaitMs: number;
  withInflight: boolean;
}

export interface PeerResult {
  enqueuePerSecond: number;
  enqueueP50Ms: number;
  enqueueP99Ms: number;
  drainPerSecond: number;
  /** From the worker's start rather than its first job. */
  drainFromStartPerSecond: number;
  drainLargePerSecond: number;
  drainLargeFromStartPerSecond: number;
  pickupP50Ms: number;
  pickupP95Ms: number;
  pickupP99Ms: number;
  inflightBaselineRssMiB: number;
  inflightPeakRssMiB: number;
  inflightPeakHeapUsedMiB: number;
  inflightAllStarted: boolean;
  inflightAllCompleted: boolean;
  config: string;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

/**
 * One peer's workloads, each in its own child process (so its memory is its own), against a fresh database
 * (PostgreSQL peers) or a fresh key prefix (BullMQ).
 */
export async function runPeer(peer: PeerName, params: PeerParams): Promise<PeerResult> {
  const result: Partial<PeerResult> = {};
  const parts: [string, Record<string, unknown>][] = [
    ['enqueue', { callers: params.enqueueCallers, durationMs: params.enqueueMs }],
    ['drain', { jobs: params.drainJobs }],
    ['pickup', { count: params.pickupCount }],
  ];
  if (params.drainJobsLarge > 0) parts.push(['drain', { jobs: params.drainJobsLarge, large: true }]);
  if (params.withInflight)
    parts.push(['inflight', { jobs: params.inflightJobs, waitMs: params.inflightWaitMs }]);
  for (const [workload, args] of parts) {
    const db = peer === 'bullmq' ? undefined : await createDatabase(peer.replace('-', '_'));
    try {
      const { large, ...rest } = args;
      const out = await child(peer, workload, { ...rest, databaseUrl: db?.url });
      if (large)
        Object.assign(result, {
          drainLargePerSecond: out.drainPerSecond,
          drainLargeFromStartPerSecond: out.drainFromStartPerSecond,
        });
      else Object.assign(result, out);
    } finally {
      if (db) await dropDatabase(db.name);
    }
  }
  return {
    drainLargePerSecond: Number.NaN,
    drainLargeFromStartPerSecond: Number.NaN,
    inflightBaselineRssMiB: Number.NaN,
    inflightPeakRssMiB: Number.NaN,
    inflightPeakHeapUsedMiB: Number.NaN,
    inflightAllStarted: false,
    inflightAllCompleted: false,
    ...result,
  } as PeerResult;
}

async function child(
  peer: PeerName,
  workload: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const proc = spawn(TSX, [CHILD, peer, workload, JSON.stringify(args)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let result: Record<string, unknown> | undefined;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith('{"result"'))
      result = (JSON.parse(line) as { result: Record<string, unknown> }).result;
  });
  const limitMs = 10 * 60_000;
  const code = await Promise.race([
    new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c))),
    sleep(limitMs).then(() => 'timeout' as const),
  ]);
  if (code === 'timeout') {
    proc.kill('SIGKILL');
    throw new Error(`${peer} ${workload}: no result within ${limitMs / 1000} s`);
  }
  if (code !== 0 || !result) throw new Error(`${peer} ${workload} exited ${code}: ${stderr}`);
  log(`${peer} ${workload}: ${JSON.stringify(result)}`);
  return result;
}
