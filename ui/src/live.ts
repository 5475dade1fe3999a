import { useEffect, useState } from 'react';
import type { QueryClient } from '@tanstack/react-query';

/** Refetches happen at most this often, however fast events arrive. */
const REFRESH_EVERY_MS = 1000;

export type LiveState = 'connecting' | 'live' | 'offline';

/** One Server-Sent Event: its name and data. */
interface SseEvent {
  event: string;
  data: string;
}

/** Splits a text/event-stream into events (comments and unknown fields ignored). */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0 || event !== 'message') events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

/**
 * Follows GET /v1/stream (one per page) and refetches the page's queries when tasks change, at most once per
 * REFRESH_EVERY_MS. Read through fetch rather than EventSource, which cannot send the bearer token. When the
 * stream ends (the instance restarts), it reconnects after a growing pause and refetches everything.
 */
export function useLiveUpdates(
  queryClient: QueryClient,
  token: string | undefined,
  onUnauthorized: () => void,
): LiveState {
  const [state, setState] = useState<LiveState>('connecting');

  useEffect(() => {
    const stop = new AbortController();
    let lastRefresh = 0;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      if (pending) return;
      const wait = Math.max(0, lastRefresh + REFRESH_EVERY_MS - Date.now());
      pending = setTimeout(() => {
        pending = undefined;
        lastRefresh = Date.now();
        void queryClient.invalidateQueries();
      }, wait);
    };

    const follow = async () => {
      let pause = 500;
      while (!stop.signal.aborted) {
        try {
          const res = await fetch('/v1/stream', {
            headers: token ? { authorization: `Bearer ${token}` } : {},
            signal: stop.signal,
          });
          if (res.status === 401) {
            onUnauthorized();
            return;
          }
          if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const parsed = parseSse(buffer + value);
            buffer = parsed.rest;
            for (const { event } of parsed.events) {
              if (event === 'ready') {
                setState('live');
                pause = 500;
              }
              // Whatever the event says changed, the lists, counts and charts on screen may show it.
              refresh();
            }
          }
        } catch {
          if (stop.signal.aborted) return;
        }
        setState('offline');
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 10_000);
      }
    };
    void follow();
    return () => {
      stop.abort();
      clearTimeout(pending);
    };
  }, [queryClient, token, onUnauthorized]);

  return state;
}
