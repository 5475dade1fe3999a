/**
 * `fetch-summary`: fetches a page and says what it is: its title, its size in bytes and how many words its text
 * has. Inline (the work is waiting on the network); the fetch is aborted with the task's signal.
 */
import Type from 'typebox';
import { defineHandler } from 'taskd/handler';

export default defineHandler({
  input: Type.Object(
    { url: Type.String({ format: 'uri', pattern: '^https?://' }) },
    { additionalProperties: false },
  ),
  timeoutMs: 30_000,
  maxAttempts: 3,
  backoff: { baseMs: 500 },
  async run({ url }, ctx) {
    const res = await fetch(url, { signal: ctx.signal, redirect: 'follow' });
    if (!res.ok) {
      // A page that is not there will not be there on the next attempt either; a server error might pass.
      const err = new Error(`GET ${url} answered ${res.status}`);
      if (res.status < 500 && res.status !== 408 && res.status !== 429)
        Object.assign(err, { retryable: false });
      throw err;
    }
    const body = await res.text();
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1]?.replace(/\s+/g, ' ').trim() ?? null;
    const text = body
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .trim();
    ctx.log.info({ url, status: res.status }, 'page fetched');
    return {
      url,
      status: res.status,
      title,
      bytes: Buffer.byteLength(body),
      words: text === '' ? 0 : text.split(/\s+/).length,
    };
  },
});
