/** Short, readable forms of what the API answers. */

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  const text =
    a < 60
      ? `${a}s`
      : a < 3600
        ? `${Math.floor(a / 60)}m`
        : a < 86_400
          ? `${Math.floor(a / 3600)}h`
          : `${Math.floor(a / 86_400)}d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

export function json(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

export const shortId = (id: string) => id.slice(0, 8);
