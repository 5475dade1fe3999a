/**
 * `npm start`: compiles dist/ if its sources changed (scripts/build-if-stale.mjs), then runs the service in this
 * same process. One process instead of a build check and then the service saves a Node.js start and a shell on
 * every start; with `exec` in package.json, this process is the one npm's signals reach.
 */
import { buildIfStale } from './build-if-stale.mjs';

const status = buildIfStale();
if (status === 0) await import('../dist/main.js');
else process.exitCode = status;
