/**
 * The service's entry point (`npm start` runs it through scripts/start.mjs, the image as `node dist/main.js`).
 * The process itself is src/entry.ts; the build replaces this module's output with a bundle of entry.ts and
 * everything it imports (scripts/bundle.mjs), so that a start reads one file rather than hundreds. Run from
 * source, it is this import.
 */
import './entry.js';
