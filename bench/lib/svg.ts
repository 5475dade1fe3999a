/** A minimal SVG bar chart: panels of labelled horizontal bars, each with a min–max whisker. */

export interface Bar {
  label: string;
  median: number;
  min: number;
  max: number;
  /** Ours is drawn in one colour, limits in another, peers in a third. */
  kind: 'ours' | 'limit' | 'peer';
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

const COLOURS = { ours: '#2b6cb0', limit: '#718096', peer: '#dd6b20' } as const;
const WIDTH = 760;
const LABEL_W = 230;
const BAR_H = 18;
const GAP = 6;

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function renderChart(title: string, subtitle: string, panels: Panel[]): string {
  const parts: string[] = [];
  let y = 50;
  const plotW = WIDTH - LABEL_W - 90;
  for (const panel of panels) {
    parts.push(
      `<text x="10" y="${y}" font-size="14" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`,
    );
    y += 10;
    const top = Math.max(1e-9, ...panel.bars.map((b) => (Number.isFinite(b.max) ? b.max : 0)));
    for (const bar of panel.bars) {
      const scale = (v: number) => (Number.isFinite(v) ? (Math.max(0, v) / top) * plotW : 0);
      const x0 = LABEL_W;
      parts.push(
        `<text x="${LABEL_W - 6}" y="${y + BAR_H - 5}" font-size="12" text-anchor="end">${esc(bar.label)}</text>`,
        `<rect x="${x0}" y="${y}" width="${scale(bar.median).toFixed(1)}" height="${BAR_H}" fill="${COLOURS[bar.kind]}"/>`,
      );
      if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
        const mid = y + BAR_H / 2;
        parts.push(
          `<line x1="${(x0 + scale(bar.min)).toFixed(1)}" x2="${(x0 + scale(bar.max)).toFixed(1)}" y1="${mid}" y2="${mid}" stroke="#1a202c" stroke-width="1.5"/>`,
          `<line x1="${(x0 + scale(bar.min)).toFixed(1)}" x2="${(x0 + scale(bar.min)).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#1a202c"/>`,
          `<line x1="${(x0 + scale(bar.max)).toFixed(1)}" x2="${(x0 + scale(bar.max)).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#1a202c"/>`,
        );
      }
      parts.push(
        `<text x="${x0 + scale(Math.max(bar.median, Number.isFinite(bar.max) ? bar.max : 0)) + 6}" y="${y + BAR_H - 5}" font-size="11">${fmt(bar.median)}</text>`,
      );
      y += BAR_H + GAP;
    }
    y += 24;
  }
  const legend = (['ours', 'limit', 'peer'] as const)
    .map(
      (k, i) =>
        `<rect x="${LABEL_W + i * 120}" y="${y}" width="12" height="12" fill="${COLOURS[k]}"/><text x="${LABEL_W + i * 120 + 18}" y="${y + 11}" font-size="12">${k === 'ours' ? 'taskd' : k === 'limit' ? 'raw SQL limit' : 'peer library'}</text>`,
    )
    .join('');
  y += 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="36" font-size="11" fill="#4a5568">${esc(subtitle)} — bars: median; whiskers: min–max over rounds</text>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
