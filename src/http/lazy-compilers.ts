import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

/**
 * Fastify's own schema compilers (ajv for requests, fast-json-stringify for responses), each route's code
 * generated when the route is first used rather than while the server is built. Compiling every route's schemas
 * up front was a third of the start-up's CPU time, for routes most processes never serve (the dashboard's, the
 * external workers', the operators'). A schema error still shows at once in the tests that use the route: the
 * schemas are fixed in code, not given by users.
 */
export function lazySchemaCompilers(): NonNullable<FastifyServerOptions['schemaController']> {
  const buildValidator = ValidatorSelector();
  const buildSerializer = SerializerSelector();
  return {
    compilersFactory: {
      buildValidator: (externalSchemas, options) => {
        const compile = buildValidator(externalSchemas, options);
        return (route) => {
          let validate: ReturnType<typeof compile> | undefined;
          const check = (data: unknown) => (validate ??= compile(route))(data);
          // Fastify reads a failed check's errors from the function, as ajv leaves them there; it uses nothing
          // else of ajv's function type.
          Object.defineProperty(check, 'errors', { get: () => validate?.errors });
          return check as unknown as ReturnType<typeof compile>;
        };
      },
      buildSerializer: (externalSchemas, options) => {
        const compile = buildSerializer(externalSchemas, options);
        return (route) => {
          let serialize: ((doc: unknown) => string) | undefined;
          return (doc: unknown) => (serialize ??= compile(route))(doc);
        };
      },
    },
  };
}
