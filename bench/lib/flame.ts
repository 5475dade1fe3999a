import { readdir, readFile } from 'node:fs/promises';

/**
 * A flame graph (SVG) of the V8 CPU profiles (`node --cpu-prof`) in a folder: one box per call path, as wide as
 * the samples spent in it and below it, callers under callees. Idle samples are left out of the boxes (the
 * subtitle says what share they were); the garbage collector is a box of its own. Coloured by where the code lives
 * (taskd, node-postgres, Fastify, pino, Node itself, other packages).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Frame {
  name: string;
  where: string;
  self: number;
  total: number;
  children: Map<string, Frame>;
}

const WIDTH = 1200;
const ROW = 16;

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function whereOf(url: string): string {
  if (url.includes('/node_modules/')) {
    const rest = url.replace(/^.*\/node_modules\//, '').split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '?');
  }
  if (url.includes('/dist/')) return 'taskd';
  if (url.startsWith('node:')) return 'node';
  return url === '' ? 'native' : 'other';
}

function colour(where: string): string {
  if (where === 'taskd') return '#3182ce';
  if (where === 'pg' || where.startsWith('pg-')) return '#38a169';
  if (
    where === 'fastify' ||
    where.startsWith('@fastify') ||
    where.startsWith('fast-') ||
    where === 'find-my-way'
  )
    return '#d69e2e';
  if (where === 'pino' || where === 'sonic-boom') return '#805ad5';
  if (where === 'node' || where === 'native') return '#a0aec0';
  return '#dd6b20';
}

function merge(into: Frame, nodes: Map<number, ProfileNode>, id: number): number {
  const node = nodes.get(id);
  if (!node) return 0;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = whereOf(url);
  const name = `${functionName || '(anonymous)'}${url ? ` ${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}` : ''}`;
  let frame = into.children.get(name);
  if (!frame) {
    frame = { name, where, self: 0, total: 0, children: new Map() };
    into.children.set(name, frame);
  }
  const self = node.hitCount ?? 0;
  frame.self += self;
  let total = self;
  for (const child of node.children ?? []) total += merge(frame, nodes, child);
  frame.total += total;
  return total;
}

/** The flame graph of every profile in `dir`, titled `title`. */
export async function flameGraph(dir: string, title: string): Promise<string> {
  const root: Frame = { name: 'all', where: 'node', self: 0, total: 0, children: new Map() };
  let idle = 0;
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(`${dir}/${f}`, 'utf8')) as { nodes: ProfileNode[] };
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const top = profile.nodes[0];
    if (!top) continue;
    // The profile's own root is '(root)': its children are the real roots.
    for (const child of top.children ?? []) {
      if (nodes.get(child)?.callFrame.functionName === '(idle)') {
        idle += nodes.get(child)?.hitCount ?? 0;
        continue;
      }
      root.total += merge(root, nodes, child);
    }
  }
  const boxes: string[] = [];
  let depth = 0;
  const draw = (frame: Frame, x: number, level: number) => {
    const w = (frame.total / Math.max(1, root.total)) * WIDTH;
    if (w < 0.5) return;
    depth = Math.max(depth, level);
    const y = level;
    const share = ((frame.total / Math.max(1, root.total)) * 100).toFixed(1);
    const label = w > 40 ? esc(frame.name.slice(0, Math.floor(w / 6.5))) : '';
    boxes.push(
      `<g data-level="${y}"><title>${esc(frame.name)} (${frame.where}): ${share} % of samples</title>` +
        `<rect x="${x.toFixed(1)}" y="Y${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${colour(frame.where)}" rx="2"/>` +
        (label ? `<text x="${(x + 3).toFixed(1)}" y="T${y}">${label}</text>` : '') +
        `</g>`,
    );
    let cx = x;
    for (const child of [...frame.children.values()].sort((a, b) => b.total - a.total)) {
      draw(child, cx, level + 1);
      cx += (child.total / Math.max(1, root.total)) * WIDTH;
    }
  };
  draw(root, 0, 0);
  const top = 40;
  const height = top + (depth + 1) * ROW + 30;
  // Callers at the bottom, as flame graphs are drawn: level 0 is the last row.
  const svg = boxes
    .map((b) => {
      const level = Number(/data-level="(\d+)"/.exec(b)?.[1] ?? 0);
      const y = top + (depth - level) * ROW;
      return b.replace(`Y${level}"`, `${y}"`).replace(`T${level}"`, `${y + ROW - 4}"`);
    })
    .join('\n');
  const legend = [
    ['taskd', '#3182ce'],
    ['node-postgres', '#38a169'],
    ['Fastify', '#d69e2e'],
    ['pino', '#805ad5'],
    ['Node.js', '#a0aec0'],
    ['other packages', '#dd6b20'],
  ]
    .map(
      ([n, c], i) =>
        `<rect x="${i * 130}" y="${height - 18}" width="12" height="12" fill="${c}"/><text x="${i * 130 + 16}" y="${height - 8}">${n}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">
<text x="0" y="16" font-size="14" font-weight="bold">${esc(title)}</text>
<text x="0" y="32" fill="#4a5568">${root.total.toLocaleString('en-US')} busy samples (the process was idle in another ${((idle / Math.max(1, idle + root.total)) * 100).toFixed(0)} % of the time); width = share of busy samples, hover for names</text>
${svg}
${legend}
</svg>
`;
}
