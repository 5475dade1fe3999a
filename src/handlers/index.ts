import type { Config } from '../config.js';
import type { OutboundClient } from '../outbound/client.js';
import type { WebhookSigner } from '../outbound/signing.js';
import { HTTP_INPUT_SCHEMA, httpHandler, httpInputProblems, type InputProblem } from './http.js';
import { DEFAULT_HANDLER, HandlerRegistry } from './registry.js';
import { simulateHandler } from './simulate.js';

/** What the `http` kind sends its requests through. */
export interface Outbound {
  client: OutboundClient;
  signer: WebhookSigner;
}

/** The handlers built into the service. Real handlers (HTTP calls, user modules) register here too. */
export function builtInHandlers(config: Config, outbound: Outbound): HandlerRegistry {
  return new HandlerRegistry()
    .register(DEFAULT_HANDLER, simulateHandler(config.SIMULATE_MIN_MS, config.SIMULATE_MAX_MS))
    .register('noop', () => 'ok')
    .register('http', httpHandler({ ...outbound, maxResponseBytes: config.HTTP_MAX_RESPONSE_BYTES }));
}

/**
 * The input rules of built-in kinds that have them: a JSON Schema (shown by GET /v1/kinds) and the check a create
 * runs, whose problems are answered as 400 invalid_input.
 */
export const builtInInputs: Readonly<
  Record<string, { schema: unknown; problems: (input: unknown) => InputProblem[] }>
> = {
  http: { schema: HTTP_INPUT_SCHEMA, problems: httpInputProblems },
};
