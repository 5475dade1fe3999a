/**
 * Where the CPU of a measured window went, from /proc: this script (load generator and router, one process), the
 * taskd processes, the PostgreSQL backends serving the simulation's databases, and the whole machine, which
 * other work on the same host shares. On a machine of two cores, the sum is what bounds the rates.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

const CLK_TCK = 100; // USER_HZ on Linux

/** CPU ticks (utime + stime) of one process so far; 0 once it has exited. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Busy and total ticks of the whole machine so far (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface CpuSnapshot {
  selfUs: number;
  taskd: Map<number, number>;
  backends: Map<number, number>;
  machine: { busy: number; total: number };
}

export function cpuSnapshot(taskdPids: readonly number[], backendPids: readonly number[]): CpuSnapshot {
  const u = process.cpuUsage();
  return {
    selfUs: u.user + u.system,
    taskd: new Map(taskdPids.map((p) => [p, processTicks(p)])),
    backends: new Map(backendPids.map((p) => [p, processTicks(p)])),
    machine: machineTicks(),
  };
}

/** Percent of one core over the window, per part; `machineBusyPercent` is of all cores together. */
export interface CpuUse {
  scriptPercent: number;
  taskdPercent: number;
  /** Backends present at both ends of the window (a connection opened within it is missed). */
  postgresPercent: number;
  machineBusyPercent: number;
  cores: number;
  elapsedMs: number;
}

/**
 * CPU milliseconds the taskd processes and their PostgreSQL backends spent per task over the window: unlike a
 * rate, it barely moves when other work on the machine takes cores away.
 */
export function serviceCpuMsPer(use: CpuUse, tasks: number): number {
  const ms = ((use.taskdPercent + use.postgresPercent) / 100) * use.elapsedMs;
  return Math.round((ms / Math.max(1, tasks)) * 1000) / 1000;
}

function ticksDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, t] of after) {
    const b = before.get(pid);
    if (b !== undefined && t >= b) sum += t - b;
  }
  return sum;
}

const pct = (x: number) => Math.round(x * 10) / 10;

export function cpuUse(before: CpuSnapshot, after: CpuSnapshot, elapsedMs: number): CpuUse {
  const seconds = elapsedMs / 1000;
  const machineTotal = after.machine.total - before.machine.total;
  return {
    scriptPercent: pct(((after.selfUs - before.selfUs) / 1e6 / seconds) * 100),
    taskdPercent: pct((ticksDelta(before.taskd, after.taskd) / CLK_TCK / seconds) * 100),
    postgresPercent: pct((ticksDelta(before.backends, after.backends) / CLK_TCK / seconds) * 100),
    machineBusyPercent: pct(
      machineTotal > 0 ? ((after.machine.busy - before.machine.busy) / machineTotal) * 100 : Number.NaN,
    ),
    cores: os.cpus().length,
    elapsedMs: Math.round(elapsedMs),
  };
}
