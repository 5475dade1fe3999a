import assert from 'node:assert/strict';
import { test } from 'node:test';
import Type from 'typebox';
import { defineHandler } from '../../src/handlers/define.js';
import { KIND_NAME } from '../../src/handlers/modules.js';
import { CreateBody } from '../../src/http/schemas.js';

test('defineHandler returns its definition unchanged', () => {
  const definition = { run: () => 1, queue: 'q', timeoutMs: 5 };
  assert.equal(defineHandler(definition), definition);
});

test("defineHandler types run's input from a TypeBox schema, a JSON Schema literal, or a type argument", () => {
  // Checked by the compiler (npm run typecheck); each @ts-expect-error fails the check if the line compiles.
  defineHandler({
    input: Type.Object({ n: Type.Number() }),
    run: (input) => input.n + 1,
  });
  defineHandler({
    input: { type: 'object', properties: { s: { type: 'string' } }, required: ['s'] },
    run: (input) => input.s.toUpperCase(),
  });
  defineHandler<{ url: string }>({ run: (input, ctx) => `${input.url} ${ctx.taskId} ${ctx.attempt}` });
  defineHandler({
    input: Type.Object({ n: Type.Number() }),
    // @ts-expect-error n is a number
    run: (input): string => input.n,
  });
  // @ts-expect-error isolation is inline or thread
  defineHandler({ run: () => 1, isolation: 'process' });
});

test('module kind names follow the kind pattern of the create schema', () => {
  assert.equal(KIND_NAME.source, (CreateBody.properties.kind as unknown as { pattern: string }).pattern);
});
