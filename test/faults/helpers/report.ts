import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Prints a scenario's figures as a short block and keeps them in .tmp/faults/<scenario>.json, where
 * docs/reliability.md's figures are taken from.
 */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(
    ([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  console.log(`\n[${scenario}]\n${lines.join('\n')}\n`);
  const dir = path.resolve('.tmp/faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${scenario}.json`),
    JSON.stringify({ scenario, at: new Date().toISOString(), ...figures }, null, 2),
  );
}

/** A sorted copy's value at quantile q (0..1). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const round = (n: number, digits = 0): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** How many times each value occurs. */
export function tally(values: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}
