import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { HandlerDefinition } from './define.js';
import { importHandlerModule } from './import-module.js';
import { compileInputSchema } from './input-schema.js';
import type { Handler, KindDefaults, KindSpec } from './registry.js';

/** A kind's name: the `kind` of a v1 create (the same pattern as its schema in http/schemas.ts). */
export const KIND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const KIND_NAME_MAX = 200;

const EXTENSIONS = ['.js', '.mjs', '.ts'] as const;
const OPTIONS = ['run', 'input', 'queue', 'timeoutMs', 'maxAttempts', 'backoff', 'isolation'];

/** A handler module that cannot be used: the service must not start. The message is one line. */
export class HandlerModuleError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`handler module ${file}: ${oneLine(reason)}`);
    this.name = 'HandlerModuleError';
  }
}

/** A module of HANDLERS_DIR, loaded and checked. */
export interface HandlerModule {
  name: string;
  /** Absolute path. */
  file: string;
  /** The module's `run`, for inline runs (a thread imports the module itself). */
  run: Handler;
  spec: KindSpec;
}

/**
 * The handler modules of `dir`: every `*.js`, `*.mjs` and `*.ts` file (not `*.d.ts`, not in subdirectories) is
 * a kind named after the file. Each is imported and its default export checked: a `run` function, an `input`
 * schema ajv compiles, options in range. Throws HandlerModuleError for the first file that fails.
 */
export async function loadHandlerModules(
  dir: string,
  reserved: ReadonlySet<string>,
): Promise<HandlerModule[]> {
  const files = readdirSync(dir)
    .filter((f) => EXTENSIONS.some((ext) => f.endsWith(ext)) && !f.endsWith('.d.ts'))
    .map((f) => path.resolve(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
  const byName = new Map<string, string>();
  for (const file of files) {
    const name = path.basename(file, path.extname(file));
    if (!KIND_NAME.test(name) || name.length > KIND_NAME_MAX) {
      throw new HandlerModuleError(
        file,
        `"${name}" is not a valid kind name (letters, digits and _ . : -, starting with a letter or digit, at most ${KIND_NAME_MAX})`,
      );
    }
    if (reserved.has(name)) throw new HandlerModuleError(file, `"${name}" is the name of a built-in kind`);
    const other = byName.get(name);
    if (other) throw new HandlerModuleError(file, `kind "${name}" is defined by ${other} too`);
    byName.set(name, file);
  }
  const modules: HandlerModule[] = [];
  for (const [name, file] of byName) modules.push(await loadOne(name, file));
  return modules;
}

async function loadOne(name: string, file: string): Promise<HandlerModule> {
  let exported: unknown;
  try {
    exported = await importHandlerModule(file);
  } catch (err) {
    throw new HandlerModuleError(file, `cannot be loaded: ${messageOf(err)}`);
  }
  if (exported === undefined) {
    throw new HandlerModuleError(file, 'has no default export (export default defineHandler({ run }))');
  }
  if (exported === null || typeof exported !== 'object') {
    throw new HandlerModuleError(
      file,
      `its default export must be an object with a run function, got ${typeName(exported)}`,
    );
  }
  const definition = exported as Partial<HandlerDefinition> & Record<string, unknown>;
  const problem = (reason: string) => new HandlerModuleError(file, reason);
  const unknown = Object.keys(definition).filter((k) => !OPTIONS.includes(k));
  if (unknown.length > 0)
    throw problem(`unknown option ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${OPTIONS.join(', ')})`);
  if (typeof definition.run !== 'function')
    throw problem(`"run" must be a function, got ${typeName(definition.run)}`);

  const defaults: KindDefaults = {};
  const { queue, timeoutMs, maxAttempts, backoff, isolation } = definition;
  if (queue !== undefined) {
    if (typeof queue !== 'string' || !KIND_NAME.test(queue) || queue.length > KIND_NAME_MAX)
      throw problem(`"queue" must be a queue name (letters, digits and _ . : -), got ${show(queue)}`);
    defaults.queue = queue;
  }
  if (timeoutMs !== undefined) defaults.timeoutMs = integer(problem, 'timeoutMs', timeoutMs, 1, 86_400_000);
  if (maxAttempts !== undefined) defaults.maxAttempts = integer(problem, 'maxAttempts', maxAttempts, 1, 1000);
  if (backoff !== undefined) {
    if (backoff === null || typeof backoff !== 'object' || Array.isArray(backoff))
      throw problem(`"backoff" must be an object { baseMs?, maxMs? }, got ${show(backoff)}`);
    const extra = Object.keys(backoff).filter((k) => k !== 'baseMs' && k !== 'maxMs');
    if (extra.length > 0)
      throw problem(
        `"backoff" has unknown option ${extra.map((k) => `"${k}"`).join(', ')} (known: baseMs, maxMs)`,
      );
    defaults.backoff = {
      ...(backoff.baseMs !== undefined && {
        baseMs: integer(problem, 'backoff.baseMs', backoff.baseMs, 1, 86_400_000),
      }),
      ...(backoff.maxMs !== undefined && {
        maxMs: integer(problem, 'backoff.maxMs', backoff.maxMs, 1, 604_800_000),
      }),
    };
  }
  if (isolation !== undefined && isolation !== 'inline' && isolation !== 'thread') {
    throw problem(`"isolation" must be "inline" or "thread", got ${show(isolation)}`);
  }
  let validate;
  if (definition.input !== undefined) {
    try {
      validate = compileInputSchema(definition.input);
    } catch (err) {
      throw problem(`invalid input schema: ${messageOf(err)}`);
    }
  }
  const { run: own } = definition;
  const run: Handler = (input, ctx) => own.call(definition, input, ctx);
  return {
    name,
    file,
    run,
    spec: {
      source: 'module',
      defaults,
      // As JSON: what GET /v1/kinds shows, without TypeBox's symbols or anything that does not serialise.
      inputSchema:
        definition.input === undefined ? null : (JSON.parse(JSON.stringify(definition.input)) as unknown),
      validate,
      isolation: isolation ?? 'inline',
    },
  };
}

function integer(
  problem: (reason: string) => Error,
  name: string,
  value: unknown,
  min: number,
  max: number,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw problem(`"${name}" must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Start-up reports one line: a compiler's multi-line message, joined and bounded. */
function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  return line.length > 600 ? `${line.slice(0, 600)}…` : line;
}
