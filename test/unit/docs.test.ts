/**
 * The documentation states facts that live in the code: the configuration variables with their defaults, the
 * error codes with their status, message and example requests, the task states, the statements that move them
 * and the indexes and constraints of the schema. Each check goes both ways (what the doc names exists, what the
 * code has is documented) and reads the code itself, so that renames and additions are caught. These tests fail
 * as soon as the code and the docs disagree, and print what the docs should say.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { HTTPMethods } from 'fastify';
import ts from 'typescript';
import { configSchema } from '../../src/config.js';
import { API_ERRORS, type ApiErrorCode } from '../../src/domain/errors.js';
import type { TaskService } from '../../src/domain/task-service.js';
import { apiStatus, FAILURE_KINDS, TASK_STATES } from '../../src/domain/task.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';

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

function defaultCell(value: (typeof configSchema)[keyof typeof configSchema]['default']): string {
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

const ERROR_HEADER = ['Code', 'HTTP status', 'Message', 'v1 `code`'] as const;

test('docs/errors.md lists every API_ERRORS code with its status and message', () => {
  const expectedRows = Object.entries(API_ERRORS).map(([code, e]) => [
    `\`${code}\``,
    String(e.status),
    `\`${e.message}\``,
    `\`${e.code}\``,
  ]);
  const expected = renderTable(ERROR_HEADER, expectedRows);
  const found = tables(read('docs/errors.md'), ERROR_HEADER);
  assert.equal(
    found.length,
    1,
    'docs/errors.md must hold one table headed | Code | HTTP status | Message | v1 `code` |',
  );
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
    `docs/errors.md: statuses, messages and v1 codes must match API_ERRORS:\n${expected}`,
  );
});

/** The bullets of the "When each is sent" list of docs/errors.md: code → the text of its bullet. */
function whenEachIsSent(markdown: string): Map<string, string> {
  const section = /^## When each is sent\n([\s\S]*?)(?=^#)/m.exec(markdown)?.[1];
  assert.ok(section, 'docs/errors.md has no section "## When each is sent"');
  const bullets = new Map<string, string>();
  for (const [, code, text] of section.matchAll(/^- `(\w+)`:([\s\S]*?)(?=^- |^\s*$)/gm))
    bullets.set(code!, text!.replace(/\s+/g, ' ').trim());
  return bullets;
}

test('docs/errors.md says when each code is sent, and its example requests get that answer', async () => {
  const bullets = whenEachIsSent(read('docs/errors.md'));
  const declared = Object.keys(API_ERRORS);
  assert.deepEqual(
    {
      missing: declared.filter((c) => !bullets.has(c)),
      unknown: [...bullets.keys()].filter((c) => !declared.includes(c)),
    },
    { missing: [], unknown: [] },
    'docs/errors.md: "When each is sent" must have one bullet per code of API_ERRORS',
  );

  // A request that no route serves is answered by the router from its method and path alone, so the doc's
  // examples of such requests can be sent as they are. The service is never reached for them.
  const app = await buildServer({
    service: { isAccepting: true } as unknown as TaskService,
    log: createLogger('silent', new Writable({ write: (_chunk, _enc, done) => done() })),
    bodyLimitBytes: 1024,
  });
  try {
    const wrong: string[] = [];
    let checked = 0;
    for (const [code, text] of bullets) {
      const expected = API_ERRORS[code as ApiErrorCode];
      for (const [, method, url] of text.matchAll(
        /`(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[^`\s]*)`/g,
      )) {
        const served = app.hasRoute({ method: method as HTTPMethods, url: url!.split('?', 1)[0]! });
        if (served) {
          // A served request reaches a route: the router's own answers cannot be what it gets.
          if (code === 'NOT_FOUND' || code === 'METHOD_NOT_ALLOWED')
            wrong.push(`${code}: \`${method} ${url}\` is served by a route`);
          continue;
        }
        checked++;
        const res = await app.inject({ method: method as HTTPMethods, url: url! });
        if (res.statusCode !== expected.status || res.json<{ error?: string }>().error !== expected.message)
          wrong.push(`${code}: \`${method} ${url}\` gets ${res.statusCode} ${res.body}`);
      }
    }
    assert.ok(checked > 0, 'docs/errors.md gives no example request that no route serves');
    assert.deepEqual(wrong, [], 'docs/errors.md: example requests that do not get the answer of their code');
  } finally {
    await app.close();
  }
});

// ---- state machine ----

/** One statement of the store: its name (a key of the `SQL` object in src/db/store.ts) and its source text. */
interface Statement {
  name: string;
  text: string;
}

/**
 * The statements of the store, read with the TypeScript parser rather than a pattern over the file, so that
 * renamed, added or reformatted statements are found as the compiler sees them. Comments are not part of a
 * statement's text.
 */
function storeStatements(): Statement[] {
  const file = 'src/db/store.ts';
  const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
  let sql: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'SQL') {
      let init = node.initializer;
      while (
        init &&
        (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))
      )
        init = init.expression;
      if (init && ts.isObjectLiteralExpression(init)) sql = init;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  assert.ok(sql, `no \`const SQL = { ... }\` in ${file}`);
  return sql.properties.map((p) => {
    assert.ok(
      ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)),
      `${file}: every entry of SQL must be \`name: \\\`statement\\\`\`, not ${p.getText(source).slice(0, 60)}`,
    );
    return { name: p.name.text, text: p.initializer.getText(source) };
  });
}

/** The tables a statement inserts into, updates or deletes from (FOR UPDATE is a lock, not a write). */
function writtenTables(statement: Statement): Set<string> {
  const writes = statement.text.matchAll(/\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+taskd\.(\w+)/gi);
  return new Set([...writes].map((m) => m[1]!));
}

interface Schema {
  tables: Set<string>;
  indexes: Set<string>;
  constraints: Set<string>;
  /** Every index or constraint any migration created, dropped or renamed ones included. */
  everNamed: Set<string>;
}

/**
 * The schema that the migrations leave behind, replayed file by file and statement by statement in the order
 * the migrations runner applies them: an index that a later migration drops or renames is gone.
 */
function schemaFromMigrations(): Schema {
  const schema: Schema = {
    tables: new Set(),
    indexes: new Set(),
    constraints: new Set(),
    everNamed: new Set(),
  };
  const bare = (name: string) => name.replaceAll('"', '').split('.').at(-1)!;
  const files = readdirSync(new URL('migrations/', root))
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  assert.ok(files.length > 0, 'no migrations found');
  const ddl = new RegExp(
    [
      String.raw`\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?<table>[\w."]+)`,
      String.raw`\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!ON\b)(?<createIndex>[\w"]+)\s+ON\b`,
      String.raw`\bDROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(?<dropIndex>[\w."]+(?:\s*,\s*[\w."]+)*)`,
      String.raw`\bALTER\s+INDEX\s+(?:IF\s+EXISTS\s+)?(?<renameIndex>[\w."]+)\s+RENAME\s+TO\s+(?<renamedIndex>[\w"]+)`,
      String.raw`\bCONSTRAINT\s+(?<createConstraint>[\w"]+)\s+CHECK\b`,
      String.raw`\bDROP\s+CONSTRAINT\s+(?:IF\s+EXISTS\s+)?(?<dropConstraint>[\w"]+)`,
      String.raw`\bRENAME\s+CONSTRAINT\s+(?<renameConstraint>[\w"]+)\s+TO\s+(?<renamedConstraint>[\w"]+)`,
    ].join('|'),
    'gi',
  );
  for (const file of files) {
    const sql = read(`migrations/${file}`)
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      .replace(/--[^\n]*/g, ' ');
    for (const { groups: g = {} } of sql.matchAll(ddl)) {
      if (g.table) schema.tables.add(bare(g.table));
      if (g.createIndex) schema.indexes.add(bare(g.createIndex));
      for (const name of g.dropIndex?.split(',') ?? []) schema.indexes.delete(bare(name.trim()));
      if (g.renameIndex && g.renamedIndex) {
        schema.indexes.delete(bare(g.renameIndex));
        schema.indexes.add(bare(g.renamedIndex));
      }
      if (g.createConstraint) schema.constraints.add(bare(g.createConstraint));
      if (g.dropConstraint) schema.constraints.delete(bare(g.dropConstraint));
      if (g.renameConstraint && g.renamedConstraint) {
        schema.constraints.delete(bare(g.renameConstraint));
        schema.constraints.add(bare(g.renamedConstraint));
      }
      for (const name of [g.createIndex, g.renamedIndex, g.createConstraint, g.renamedConstraint])
        if (name) schema.everNamed.add(bare(name));
    }
  }
  return schema;
}

/** Every `code span` of a Markdown text. */
function codeSpans(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
}

const STATE_HEADER = ['`state`', 'Meaning', '`Status` in `GET /task/check-result`'] as const;
const FAILURE_HEADER = ['`failure`', 'Written by', 'When', '`Result`'] as const;

test('docs/state-machine.md documents exactly the states, failure kinds and status mapping of the code', () => {
  const doc = read('docs/state-machine.md');

  const states = tables(doc, STATE_HEADER);
  assert.equal(
    states.length,
    1,
    `docs/state-machine.md must hold one table headed | ${STATE_HEADER.join(' | ')} |`,
  );
  const expectedStates = TASK_STATES.map((s) => [`\`${s}\``, `\`${apiStatus(s)}\``]);
  assert.deepEqual(
    states[0]!.map((r) => [r[0], r[2]]),
    expectedStates,
    'the states table must list TASK_STATES (src/domain/task.ts) in order, each with its apiStatus',
  );

  const failures = tables(doc, FAILURE_HEADER);
  assert.equal(
    failures.length,
    1,
    `docs/state-machine.md must hold one table headed | ${FAILURE_HEADER.join(' | ')} |`,
  );
  assert.deepEqual(
    failures[0]!.map((r) => unquote(r[0] ?? '')).sort(),
    [...FAILURE_KINDS].sort(),
    'the failure kinds table must list exactly FAILURE_KINDS (src/domain/task.ts)',
  );

  // The diagram: every state in it is a state of the code, and every state of the code is in it.
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(diagram, 'docs/state-machine.md has no mermaid diagram');
  const transitions = [...diagram.matchAll(/^\s*(\S+)\s+-->\s+(\S+)\s*:\s*(.*)$/gm)];
  assert.ok(transitions.length > 0, 'the diagram has no transitions');
  const drawn = new Set(transitions.flatMap((m) => [m[1]!, m[2]!]));
  assert.deepEqual(
    [...drawn].filter((s) => s !== '[*]' && !(TASK_STATES as readonly string[]).includes(s)),
    [],
    'the diagram draws states that TASK_STATES does not have',
  );
  assert.deepEqual(
    TASK_STATES.filter((s) => !drawn.has(s)),
    [],
    'the diagram leaves out states of TASK_STATES',
  );
});

test('docs/state-machine.md names only statements, indexes and constraints that exist, and all of them', async () => {
  const doc = read('docs/state-machine.md');
  const spans = codeSpans(doc);
  const statements = storeStatements();
  const statementNames = new Set(statements.map((s) => s.name));
  assert.ok(statementNames.size > 0, 'no statements found in src/db/store.ts');

  // Code names in the doc (`taskSettleMany`, `apiStatus`): each is a statement of the store or an export of a
  // module the doc links to. A renamed statement must not linger.
  const linked = [...doc.matchAll(/\]\(\.\.\/(src\/[\w/.-]+\.ts)\)/g)].map((m) => m[1]!);
  const exported = new Set<string>();
  for (const file of new Set(linked))
    for (const name of Object.keys((await import(new URL(file, root).href)) as object)) exported.add(name);
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const diagramNames = [...diagram.matchAll(/-->\s*\S+\s*:\s*([^(\n]*)/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
  );
  const codeNames = [...spans].filter((s) => /^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*$/.test(s));
  assert.deepEqual(
    [...new Set([...codeNames, ...diagramNames])].filter((n) => !statementNames.has(n) && !exported.has(n)),
    [],
    'docs/state-machine.md names these, which are neither statements of src/db/store.ts nor exports of the modules it links',
  );

  // Every statement that writes a table of the schema is explained (reads such as `ping` move nothing).
  const writers = statements.filter((s) => writtenTables(s).size > 0).map((s) => s.name);
  assert.ok(writers.length > 0, 'no statement of src/db/store.ts writes a table');
  assert.deepEqual(
    writers.filter((n) => !spans.has(n)),
    [],
    'docs/state-machine.md does not explain these statements of src/db/store.ts, which write the tables',
  );

  // Schema objects: what the doc names must exist after the last migration; what exists must be explained.
  const schema = schemaFromMigrations();
  assert.ok(schema.tables.size > 0 && schema.indexes.size > 0, 'no tables or indexes found in migrations/');
  const objectName = new RegExp(`^(?:${[...schema.tables].join('|')})_\\w+$`);
  const mentioned = [...spans].filter((s) => objectName.test(s) || schema.everNamed.has(s));
  assert.deepEqual(
    mentioned.filter((n) => !schema.indexes.has(n) && !schema.constraints.has(n)),
    [],
    `docs/state-machine.md names these, which are no index or constraint once migrations/ are applied (indexes: ${[...schema.indexes].join(', ')})`,
  );
  assert.deepEqual(
    [...schema.indexes, ...schema.constraints].filter((n) => !spans.has(n)),
    [],
    'docs/state-machine.md does not explain these indexes and constraints of the schema',
  );
});
