import { startApp } from './app.js';
import { InvalidConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/**
 * Entry point: config → app → run until a signal. The first SIGTERM/SIGINT shuts down gracefully and exits 0;
 * a second one cuts the grace period short and exits at once after failing running tasks.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof InvalidConfigError) {
      console.error(`taskd: invalid configuration: ${err.problems.join('; ')}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);

  const app = await startApp(config, log).catch((err: unknown) => {
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'shutdown requested');
      app.stop().then(
        // A shutdown cut short by a second signal did not let tasks finish: say so in the exit code.
        () => process.exit(signals > 1 ? 1 : 0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    } else if (signals === 2) {
      log.warn({ signal }, 'second signal: forcing shutdown');
      // Bounded: whatever is not done in 3 s is left to the lease, which expires within LEASE_MS.
      setTimeout(() => process.exit(1), 3000).unref();
      app.forceStop().finally(() => process.exit(1));
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled rejection');
  });
}

void main();
