/** `npm run generate:client`: writes the API's TypeScript types (src/client/schema.ts) from its OpenAPI document. */
import { writeFile } from 'node:fs/promises';
import { SCHEMA_FILE, generateClientTypes } from './client-types.js';

await writeFile(SCHEMA_FILE, await generateClientTypes());
console.log(`wrote ${SCHEMA_FILE}`);
