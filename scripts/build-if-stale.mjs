/**
 * `npm start`, `npm run migrate`, `npm test` and `npm ci` (prepare) compile src/ to dist/ (and the dashboard, ui/,
 * to dist/ui/ with Vite) through this script, and
 * only when the sources changed since the last successful build: the compiler takes seconds and is the largest
 * process of the tree, and restarts (crash recovery, autoscaling, tests) should not pay for it.
 *
 *   node scripts/build-if-stale.mjs             compile if stale; the compiler's exit status
 *   node scripts/build-if-stale.mjs --check     print "fresh" (exit 0) or "stale: <why>" (exit 1); never compiles
 *   node scripts/build-if-stale.mjs --optional  as the first, but without TypeScript installed (an install with
 *                                               --omit=dev) say so and exit 0: `npm ci`'s prepare must not fail
 *
 * Plain JavaScript on purpose: no tsx, no tsc, nothing loaded beyond Node itself when dist/ is fresh.
 *
 * What "stale" means: dist/.build-inputs.json records, for every input (the TypeScript and JSON files under src/,
 * the dashboard's files under ui/, tsconfig*.json, package.json, package-lock.json, scripts/bundle.mjs), its
 * modification time and size as they were when the last
 * successful compile started. Any difference (an edited or touched file, one added, removed or renamed), a
 * missing record or a missing dist/*.js for a source means stale. The record is taken before the compile, so an
 * edit made while it runs shows up as a difference next time; it is written only when the compiler succeeds,
 * so a build that failed (a type error) is tried again rather than trusted. A plain `npm run build` writes no
 * record: it is still correct, only the next start compiles once more.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
const RECORD = path.join(DIST, '.build-inputs.json');
const TSCONFIG = 'tsconfig.build.json';
// What tsc reads under src/ (sources, declarations, JSON modules); editor swap and backup files are not inputs.
const SOURCE = /\.(?:[cm]?ts|json)$/;
// What Vite reads under ui/.
const UI_SOURCE = /\.(?:[cm]?[jt]sx?|json|css|html)$/;

/** Every input, relative to the root (with / separators), mapped to "mtime in ns:size". */
function inputs() {
  const found = new Map();
  const add = (rel) => {
    const st = statSync(path.join(ROOT, rel), { bigint: true });
    found.set(rel.split(path.sep).join('/'), `${st.mtimeNs}:${st.size}`);
  };
  for (const name of readdirSync(ROOT)) {
    if (/^tsconfig.*\.json$/.test(name) || name === 'package.json' || name === 'package-lock.json') add(name);
  }
  // What the build runs after the compiler: a change to the bundles' recipe is a change to dist/.
  if (existsSync(path.join(ROOT, 'scripts', 'bundle.mjs'))) add('scripts/bundle.mjs');
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if ((dir.startsWith('ui') ? UI_SOURCE : SOURCE).test(entry.name)) add(rel);
    }
  };
  walk('src');
  // The dashboard (ui/, built by Vite into dist/ui/): its sources, page, styles and build config. A copy of the
  // service without it (the service alone) builds without it.
  if (existsSync(path.join(ROOT, 'ui'))) walk('ui');
  return found;
}

/** The compiled file a source must have produced, or undefined for inputs that produce none. */
function outputOf(rel) {
  if (rel.startsWith('ui/')) return 'dist/ui/index.html';
  if (!rel.startsWith('src/') || rel.endsWith('.d.ts')) return undefined;
  const out = rel.replace(/^src\//, 'dist/');
  if (out.endsWith('.mts')) return out.replace(/\.mts$/, '.mjs');
  if (out.endsWith('.cts')) return out.replace(/\.cts$/, '.cjs');
  if (out.endsWith('.ts')) return out.replace(/\.ts$/, '.js');
  return undefined;
}

/** Why dist/ does not match `current`, or undefined when it does. */
function staleness(current) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(RECORD, 'utf8')).inputs;
  } catch {
    return 'no record of a successful build (dist/.build-inputs.json)';
  }
  if (typeof recorded !== 'object' || recorded === null) return 'dist/.build-inputs.json is unreadable';
  for (const [rel, sig] of current) {
    if (!(rel in recorded)) return `${rel} is new since the last build`;
    if (recorded[rel] !== sig) return `${rel} changed since the last build`;
  }
  for (const rel of Object.keys(recorded)) {
    if (!current.has(rel)) return `${rel} was removed since the last build`;
  }
  for (const rel of current.keys()) {
    const out = outputOf(rel);
    if (out && !existsSync(path.join(ROOT, out))) return `${out} is missing`;
  }
  return undefined;
}

function compilerPath() {
  try {
    return createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function vitePath() {
  try {
    return path.join(
      path.dirname(createRequire(import.meta.url).resolve('vite/package.json')),
      'bin',
      'vite.js',
    );
  } catch {
    return undefined;
  }
}

function main(argv) {
  const known = new Set(['--check', '--optional']);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length) {
    console.error(`build-if-stale: unknown argument ${unknown.join(' ')}; use --check or --optional`);
    return 2;
  }
  const current = inputs();
  const why = staleness(current);
  if (argv.includes('--check')) {
    console.log(why ? `stale: ${why}` : 'fresh');
    return why ? 1 : 0;
  }
  if (!why) return 0;

  const tsc = compilerPath();
  if (!tsc) {
    if (argv.includes('--optional')) {
      console.error(`build-if-stale: TypeScript is not installed (production install?); dist/ not built`);
      return 0;
    }
    console.error(
      `build-if-stale: dist/ is out of date (${why}) and TypeScript is not installed: run npm ci`,
    );
    return 1;
  }
  console.error(`build-if-stale: ${why}; compiling (tsc -p ${TSCONFIG})`);
  const result = spawnSync(process.execPath, [tsc, '-p', TSCONFIG], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(
      `build-if-stale: the compiler failed (${result.status ?? result.signal}); dist/ not recorded`,
    );
    return result.status || 1;
  }
  // The vendor packages and the service entry point, bundled (scripts/bundle.mjs).
  const vendor = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (vendor.status !== 0) {
    console.error(`build-if-stale: bundling failed (${vendor.status ?? vendor.signal}); dist/ not recorded`);
    return vendor.status || 1;
  }
  // The dashboard, by Vite (a devDependency like TypeScript): into dist/ui/.
  if (!existsSync(path.join(ROOT, 'ui'))) return record(current);
  const vite = vitePath();
  if (!vite) {
    console.error('build-if-stale: Vite is not installed: run npm ci');
    return 1;
  }
  const ui = spawnSync(process.execPath, [vite, 'build', '--config', 'ui/vite.config.mjs'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (ui.status !== 0) {
    console.error(
      `build-if-stale: the dashboard's build failed (${ui.status ?? ui.signal}); dist/ not recorded`,
    );
    return ui.status || 1;
  }
  return record(current);
}

/** Notes the inputs of a successful build. */
function record(current) {
  mkdirSync(DIST, { recursive: true });
  // Written whole and renamed into place: a build interrupted here leaves no half record to be trusted.
  const tmp = `${RECORD}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ inputs: Object.fromEntries(current) }, null, 1)}\n`);
  renameSync(tmp, RECORD);
  return 0;
}

/**
 * For scripts/start.mjs, which checks and then runs the service in the same process: dist/ is fresh, or has just
 * been compiled, when this returns 0 (the status of the failed step otherwise, with the reason printed).
 */
export function buildIfStale() {
  return main([]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
