/**
 * The documentation states facts that live in the code: the configuration variables with their defaults, the
 * error codes with their status and message, the task states and the statements that move them. These tests
 * fail as soon as the code and the docs disagree, and print the rows the docs should have.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configSchema } from '../../src/config.js';
import { API_ERRORS } from '../../src/domain/errors.js';
import { FAILURE_KINDS, TASK_STATES } from '../../src/domain/task.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

type Row = string[];

/** Every Markdown table in `markdown` whose header cells are exactly `header`, as rows of trimmed cells. */
function tables(markdown: string, header: readonly string[]): Row[][] {
  const found: Row[][] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!isTableLine(lines[i])) continue;
    const start = i;
    while (i < lines.length && isTableLine(lines[i])) i++;
    const [head, separator, ...body] = lines.slice(start, i).map(cells);
    if (!head || !separator || head.join('|') !== header.join('|')) continue;
    found.push(body);
  }
  return found;
}

function isTableLine(line: string | undefined): line is string {
  return line !== undefined && line.trimStart().startsWith('|');
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** `x` → x */
function unquote(cell: string): string {
  const m = /^`(.*)`$/.exec(cell);
  return m ? m[1]! : cell;
}

// ---- configuration ----

const CONFIG_HEADER = ['Variable', 'Default', 'Meaning'] as const;

function defaultCell(value: unknown): string {
  return value === undefined ? 'unset' : `\`${String(value)}\``;
}

function expectedConfigRows(): Row[] {
  return Object.entries(configSchema).map(([name, spec]) => [
    `\`${name}\``,
    defaultCell(spec.default),
    spec.doc,
  ]);
}

function renderTable(header: readonly string[], rows: Row[]): string {
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function checkConfigTable(file: string): void {
  const found = tables(read(file), CONFIG_HEADER);
  const expected = renderTable(CONFIG_HEADER, expectedConfigRows());
  assert.equal(
    found.length,
    1,
    `${file} must hold one table headed | Variable | Default | Meaning |:\n${expected}`,
  );
  const rows = found[0]!;
  const documented = rows.map((r) => unquote(r[0] ?? ''));
  const declared = Object.keys(configSchema);
  const missing = declared.filter((n) => !documented.includes(n));
  const unknown = documented.filter((n) => !declared.includes(n));
  assert.deepEqual(
    { missing, unknown },
    { missing: [], unknown: [] },
    `${file} must list exactly the variables of configSchema (src/config.ts); the table should read:\n${expected}`,
  );
  assert.deepEqual(
    rows,
    expectedConfigRows(),
    `${file}: names, defaults and meanings must match configSchema, in its order; the table should read:\n${expected}`,
  );
}

test('docs/configuration.md lists every variable of configSchema with its default and doc', () => {
  checkConfigTable('docs/configuration.md');
});

test("the README's configuration table is the same table", () => {
  checkConfigTable('README.md');
});

// ---- errors ----

const ERROR_HEADER = ['Code', 'HTTP status', 'Message'] as const;

test('docs/errors.md lists every API_ERRORS code with its status and message', () => {
  const expectedRows = Object.entries(API_ERRORS).map(([code, e]) => [
    `\`${code}\``,
    String(e.status),
    `\`${e.message}\``,
  ]);
  const expected = renderTable(ERROR_HEADER, expectedRows);
  const found = tables(read('docs/errors.md'), ERROR_HEADER);
  assert.equal(found.length, 1, `docs/errors.md must hold one table headed | Code | HTTP status | Message |`);
  const rows = found[0]!;
  const documented = rows.map((r) => unquote(r[0] ?? ''));
  const declared = Object.keys(API_ERRORS);
  assert.deepEqual(
    {
      missing: declared.filter((c) => !documented.includes(c)),
      unknown: documented.filter((c) => !declared.includes(c)),
    },
    { missing: [], unknown: [] },
    `docs/errors.md must list exactly the codes of API_ERRORS (src/domain/errors.ts); the table should read:\n${expected}`,
  );
  assert.deepEqual(
    rows,
    expectedRows,
    `docs/errors.md: statuses and messages must match API_ERRORS:\n${expected}`,
  );
});

// ---- state machine ----

test('docs/state-machine.md names every state and failure kind, and only statements that exist', () => {
  const doc = read('docs/state-machine.md');
  for (const state of TASK_STATES)
    assert.match(doc, new RegExp(`\\b${state}\\b`), `state ${state} is not documented`);
  for (const kind of FAILURE_KINDS)
    assert.match(doc, new RegExp(`\`${kind}\``), `failure kind ${kind} is not documented`);

  // Statement names are the keys of the SQL table in the store; a renamed statement must not linger in the docs.
  const store = read('src/db/store.ts');
  const statements = new Set([...store.matchAll(/^ {2}(\w+): `/gm)].map((m) => m[1]!));
  assert.ok(statements.size > 0, 'no statements found in src/db/store.ts');
  const named = new Set([...doc.matchAll(/`((?:task|worker)[A-Z]\w*)`/g)].map((m) => m[1]!));
  assert.ok(named.size > 0, 'docs/state-machine.md names no store statement');
  for (const name of named)
    assert.ok(
      statements.has(name),
      `docs/state-machine.md names \`${name}\`, not a statement of src/db/store.ts`,
    );

  // Every CHECK constraint of the schema is explained.
  const migrations = readdirSync(new URL('migrations/', root))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => read(`migrations/${f}`))
    .join('\n');
  for (const [, constraint] of migrations.matchAll(/CONSTRAINT (\w+) CHECK/g)) {
    assert.ok(doc.includes(constraint!), `constraint ${constraint} is not documented`);
  }
});
