import type { Config } from '../config.js';
import { DEFAULT_HANDLER, HandlerRegistry } from './registry.js';
import { simulateHandler } from './simulate.js';

/** The handlers built into the service. Real handlers (HTTP calls, user modules) register here too. */
export function builtInHandlers(config: Config): HandlerRegistry {
  return new HandlerRegistry()
    .register(DEFAULT_HANDLER, simulateHandler(config.SIMULATE_MIN_MS, config.SIMULATE_MAX_MS))
    .register('noop', () => 'ok');
}
