import { StartAborted, StartupError, startApp, type App } from './app.js';
import { InvalidConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/**
 * Entry point: config → app → run until a signal. The first SIGTERM/SIGINT shuts down gracefully and exits 0
 * (also while still starting: what was acquired is released); a second one cuts the grace period short and exits
 * at once after failing running tasks. Something the process cannot live on with (a loop that keeps crashing,
 * an unhandled rejection) stops it gracefully with exit code 1 rather than leaving a zombie that holds its lease.
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

  const starting = new AbortController();
  let app: App | undefined;
  let exitCode = 0;
  let signals = 0;
  let stopping: Promise<void> | undefined;

  const stop = (code: number) => {
    exitCode = Math.max(exitCode, code);
    starting.abort();
    // Still starting: the start sees the abort, releases what it acquired, and the process exits there.
    if (!app) return;
    stopping ??= app.stop().then(
      () => process.exit(exitCode),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log.info({ event: 'shutdown.requested', signal }, 'shutdown requested');
      stop(0);
    } else if (signals === 2) {
      log.warn({ signal }, 'second signal: forcing shutdown');
      // Bounded: whatever is not done in 3 s is left to the lease, which expires within LEASE_MS.
      setTimeout(() => process.exit(1), 3000).unref();
      // A shutdown cut short by a second signal did not let tasks finish: say so in the exit code.
      exitCode = 1;
      void (app?.forceStop() ?? Promise.resolve()).finally(() => process.exit(1));
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection: stopping');
    stop(1);
  });

  try {
    app = await startApp(config, log, {
      signal: starting.signal,
      onFatal: (err) => {
        log.fatal({ err }, 'fatal engine failure: stopping');
        stop(1);
      },
    });
  } catch (err) {
    if (err instanceof StartAborted) {
      log.info('start-up interrupted; everything it acquired is released');
      process.exit(exitCode);
    }
    if (err instanceof StartupError) {
      console.error(`taskd: ${err.message}`);
      log.fatal({ err }, 'start-up failed');
      process.exit(1);
    }
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  // A signal that arrived between the last checkpoint and here: stop now that the app exists.
  if (starting.signal.aborted) stop(exitCode);
}

// Only a failure before the logger and the rejection handler exist gets here: say it and exit 1, as Node would.
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
