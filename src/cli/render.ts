import type { Task } from '../client/index.js';

/** Human output of the CLI: aligned tables and key/value blocks; `--json` bypasses all of it. */

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines, keys aligned. */
export function fields(entries: readonly [string, string][]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** A JSON value on one line, strings as they are. */
export function inline(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function taskFields(t: Task): string {
  return fields([
    ['id', t.id],
    ['kind', t.kind],
    ['queue', t.queue],
    ['state', t.state],
    ['attempt', `${t.attempt}/${t.max_attempts}`],
    ['priority', String(t.priority)],
    ['progress', progressText(t) || '-'],
    ['input', inline(t.input)],
    ['result', inline(t.result)],
    ['error', t.error ? `${t.error.type}: ${t.error.message}` : '-'],
    ['created', t.created_at],
    ['run at', t.run_at],
    ['started', t.started_at ?? '-'],
    ['finished', t.finished_at ?? '-'],
  ]);
}

export function progressText(t: Pick<Task, 'progress'>): string {
  const p = t.progress;
  if (!p) return '';
  return [p.percent === null ? undefined : `${Math.round(p.percent)}%`, p.message ?? undefined]
    .filter(Boolean)
    .join(' ');
}

/**
 * What a waiting command shows while its task runs: a bar redrawn in place on a terminal, a line per change
 * otherwise (a log, a pipe). Written to stderr, so that stdout carries only the answer.
 */
export class ProgressView {
  private last = '';
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly terminal: boolean,
  ) {}

  update(t: Task): void {
    const text = `${t.state}${progressText(t) ? ` ${progressText(t)}` : ''}`;
    if (text === this.last) return;
    this.last = text;
    if (!this.terminal) {
      this.out.write(`${t.id} ${text}\n`);
      return;
    }
    const percent = t.progress?.percent ?? (t.state === 'completed' ? 100 : null);
    const width = 30;
    const filled = percent === null ? 0 : Math.round((Math.min(Math.max(percent, 0), 100) / 100) * width);
    const bar = percent === null ? ' '.repeat(width) : '#'.repeat(filled) + '-'.repeat(width - filled);
    const message = t.progress?.message ? ` ${t.progress.message}` : '';
    const pct = percent === null ? '   ' : `${String(Math.round(percent)).padStart(3)}%`;
    this.out.write(`\r\x1b[2K[${bar}] ${pct} ${t.state}${message}`);
    this.drawn = true;
  }

  /** Ends the bar's line, so that what follows starts on a line of its own. */
  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
