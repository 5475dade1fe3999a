import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs, one line per key operation. When stdout is a terminal the lines are rendered for
 * humans with pino-pretty (a dev dependency: production images always log JSON).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid } };
  if (!destination && process.stdout.isTTY) {
    try {
      return pino({
        ...options,
        transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
      });
    } catch {
      // pino-pretty is not installed (production image): fall through to JSON.
    }
  }
  return destination ? pino(options, destination) : pino(options);
}
