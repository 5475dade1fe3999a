import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

/** pino-pretty is a dev dependency: present in a checkout, absent from the production image. */
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Structured JSON logs, one line per key operation. When stdout is a terminal (and pino-pretty is installed)
 * the lines are rendered for humans instead.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid } };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY && prettyAvailable()) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  // Asynchronous writes: a process running thousands of tasks a second would otherwise spend its event loop in
  // write(2) calls. pino flushes what is buffered when the process exits.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
