/**
 * After `tsc`: bundles the compiled modules of dist/vendor/ in place, each with its package inlined, so that a start
 * loads one file for a package that ships as hundreds of ES modules (see src/vendor/typebox.ts). Called by
 * `npm run build` and by scripts/build-if-stale.mjs; exit status 0 when done.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const VENDOR = fileURLToPath(new URL('../dist/vendor/', import.meta.url));

for (const name of readdirSync(VENDOR).filter((f) => f.endsWith('.js'))) {
  const file = path.join(VENDOR, name);
  await build({
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    legalComments: 'inline',
    logLevel: 'warning',
  });
  // tsc's source map described the module before it was bundled.
  rmSync(`${file}.map`, { force: true });
}
