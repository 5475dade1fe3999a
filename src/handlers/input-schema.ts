import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { InputProblem, InputValidator } from './registry.js';

/** Most problems one answer lists: enough to fix an input, bounded for an input with thousands of items. */
const MAX_PROBLEMS = 20;

/**
 * One validator per process for the kinds' input schemas (JSON Schema draft-07, which TypeBox emits, with the
 * formats of ajv-formats). Strict: a keyword ajv does not know (a typo, say) is an error at start-up rather than a
 * schema that silently checks less than its author meant.
 */
let shared: Ajv | undefined;

/** Made on first use: a start that registers no schema (most do not) should not pay for ajv and its formats. */
function validator(): Ajv {
  if (!shared) {
    shared = new Ajv({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
    addFormats.default(shared);
  }
  return shared;
}

/** Compiles `schema` once; throws ajv's own message when it is not a schema ajv can compile. */
export function compileInputSchema(schema: unknown): InputValidator {
  if (
    typeof schema !== 'boolean' &&
    (schema === null || typeof schema !== 'object' || Array.isArray(schema))
  ) {
    throw new Error('must be a JSON Schema (an object or a boolean)');
  }
  const check = validator().compile(schema);
  return (input) => (check(input) ? undefined : problems(check.errors ?? []));
}

/**
 * A check that returns ajv's errors for an input (undefined: the input is fine), for callers that word the
 * problems themselves. `schema` is compiled on the first check, not here: such checks are made when their module
 * loads, and compiling the http kind's took 56 ms of every start.
 */
export function compileSchemaCheck(schema: object): (input: unknown) => readonly ErrorObject[] | undefined {
  let check: ValidateFunction | undefined;
  return (input) => {
    check ??= validator().compile(schema);
    return check(input) ? undefined : (check.errors ?? []);
  };
}

function problems(errors: readonly ErrorObject[]): InputProblem[] {
  return errors.slice(0, MAX_PROBLEMS).map((e) => ({
    path: e.instancePath,
    message: e.message ?? e.keyword,
  }));
}
