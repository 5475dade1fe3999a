import { statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { OutboundClient } from '../outbound/client.js';
import type { WebhookSigner } from '../outbound/signing.js';
import { HTTP_INPUT_SCHEMA, httpHandler, httpInputProblems } from './http.js';
import { loadHandlerModules } from './modules.js';
import { DEFAULT_HANDLER, HandlerRegistry } from './registry.js';
import { simulateHandler } from './simulate.js';
import type { HandlerThreads } from './thread-pool.js';

/** What the `http` kind sends its requests through. */
export interface Outbound {
  client: OutboundClient;
  signer: WebhookSigner;
}

/** The kinds built into the service; handler modules register beside them (registerHandlerModules). */
export function builtInHandlers(config: Config, outbound: Outbound): HandlerRegistry {
  return new HandlerRegistry()
    .register(DEFAULT_HANDLER, simulateHandler(config.SIMULATE_MIN_MS, config.SIMULATE_MAX_MS))
    .register('noop', () => 'ok')
    .register('http', httpHandler({ ...outbound, maxResponseBytes: config.HTTP_MAX_RESPONSE_BYTES }), {
      source: 'builtin',
      defaults: {},
      inputSchema: HTTP_INPUT_SCHEMA,
      validate: (input) => {
        const problems = httpInputProblems(input);
        return problems.length > 0 ? problems : undefined;
      },
      isolation: 'inline',
    });
}

/** Where handler modules are looked for when HANDLERS_DIR is unset. */
export const DEFAULT_HANDLERS_DIR = './handlers';

/** HANDLERS_DIR is set to something that is not a directory. */
export class HandlersDirError extends Error {}

/**
 * Registers the handler modules of HANDLERS_DIR (or of ./handlers when it is unset and exists) beside the kinds
 * already in `registry`; `threads` runs those of `isolation: "thread"`. Returns the directory read, if any.
 * Throws HandlersDirError or HandlerModuleError (one line each) when the service must not start.
 */
export async function registerHandlerModules(
  registry: HandlerRegistry,
  dir: string | undefined,
  threads: HandlerThreads,
): Promise<string | undefined> {
  const resolved = path.resolve(dir ?? DEFAULT_HANDLERS_DIR);
  const isDir = statSync(resolved, { throwIfNoEntry: false })?.isDirectory() ?? false;
  if (!isDir) {
    if (dir === undefined) return undefined;
    throw new HandlersDirError(`HANDLERS_DIR ${resolved} is not a directory`);
  }
  for (const m of await loadHandlerModules(resolved, new Set(registry.names()))) {
    registry.register(m.name, m.spec.isolation === 'thread' ? threads.handlerFor(m.file) : m.run, m.spec);
  }
  return resolved;
}
