/**
 * `hash-file`: the SHA-256 of a file, however large. Hashing is CPU work: it runs in a worker thread, so the
 * service's event loop stays free, and the thread is terminated if the task times out or is cancelled. Progress
 * is reported as the file is read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import Type from 'typebox';
import { defineHandler } from 'taskd/handler';

export default defineHandler({
  isolation: 'thread',
  input: Type.Object({ path: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  timeoutMs: 600_000,
  maxAttempts: 1,
  async run({ path }, ctx) {
    const { size } = await stat(path);
    const hash = createHash('sha256');
    let read = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
      ctx.progress(size === 0 ? 100 : (100 * read) / size, `${read} of ${size} bytes`);
    }
    return { path, bytes: read, sha256: hash.digest('hex') };
  },
});
