import { Writable } from 'node:stream';
import openapiTS, { astToString } from 'openapi-typescript';
import type { OpenAPI3 } from 'openapi-typescript';
import { format } from 'prettier';
import type { TaskService } from '../src/domain/task-service.js';
import { buildServer } from '../src/http/server.js';
import { createLogger } from '../src/logger.js';
import type { ScheduleService } from '../src/schedules/schedule-service.js';

/** Where the generated types live, relative to the repository. */
export const SCHEMA_FILE = 'src/client/schema.ts';

/**
 * The TypeScript types of the API, generated from the OpenAPI document the server serves (openapi-typescript),
 * formatted as the repository formats code. The document is built in process from the route schemas: the same
 * document `GET /openapi.json` answers with.
 */
export async function generateClientTypes(): Promise<string> {
  const app = await buildServer({
    // Building the document registers the routes; no request is served, so the service is never called.
    service: { isAccepting: true } as unknown as TaskService,
    schedules: {} as unknown as ScheduleService,
    log: createLogger('silent', new Writable({ write: (_chunk, _enc, done) => done() })),
    bodyLimitBytes: 1024,
  });
  try {
    await app.ready();
    const document = app.swagger() as unknown as OpenAPI3;
    const ast = await openapiTS(document);
    const header =
      '/**\n * The types of the taskd HTTP API, generated from its OpenAPI document by `npm run generate:client`.\n' +
      ' * Do not edit: a test fails when this file and the served document disagree.\n */\n';
    return format(header + astToString(ast), {
      parser: 'typescript',
      printWidth: 110,
      singleQuote: true,
      trailingComma: 'all',
    });
  } finally {
    await app.close();
  }
}
