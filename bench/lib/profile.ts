import { readdir, readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The functions with the most self time in the V8 CPU profiles (`node --cpu-prof`) found in `dir`. */
export async function topSelfTime(dir: string, top = 25): Promise<{ share: number; fn: string }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const hits = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const profile = JSON.parse(await readFile(`${dir}/${f}`, 'utf8')) as { nodes: ProfileNode[] };
    for (const node of profile.nodes) {
      const n = node.hitCount ?? 0;
      if (n === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
      const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
      hits.set(key, (hits.get(key) ?? 0) + n);
      total += n;
    }
  }
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, n]) => ({ share: n / total, fn }));
}
