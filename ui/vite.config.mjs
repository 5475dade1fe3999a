// Builds the dashboard into dist/ui/, served by taskd itself at /ui/ (src/http/routes/ui.ts). Plain JavaScript,
// so that it needs no Node types in the browser code's TypeScript project (ui/tsconfig.json).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  // No public/ folder: everything the page needs is bundled, nothing is fetched from elsewhere.
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Hashed names (assets/index-<hash>.js): the server caches them for good (see routes/ui.ts).
    assetsDir: 'assets',
    sourcemap: true,
    chunkSizeWarningLimit: 400,
    rolldownOptions: {
      // React Query's "use client" directives mean nothing to a plain bundle; dropping them is expected.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  logLevel: 'warn',
});
