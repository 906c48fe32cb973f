// The keys page's writes go through the proxy's own admin API (POST /admin/keys, DELETE
// /admin/keys/:id), so the UI never re-implements key creation, hashing, audit or the key-ring
// reload. Server-side only: the master key travels from this process to the admin API and
// never into a page, cookie or URL.
import type { RequestEvent } from '@sveltejs/kit';

export interface AdminCallResult {
  ok: boolean;
  status: number;
  /** The parsed JSON body (null when the body was not JSON). */
  body: unknown;
  /** The API's error message (its `error.message`), or a generic one; empty when ok. */
  message: string;
}

/**
 * Where the admin API answers. Embedded mode serves it on this very process and port: the
 * socket the request arrived on names it without trusting the Host header (a spoofed Host
 * must not receive the master key). `configured` (standalone UI) wins when set.
 */
export function adminBaseUrl(event: Pick<RequestEvent, 'url' | 'platform'>, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  const sock = event.platform?.req.socket;
  const addr = sock?.localAddress;
  const port = sock?.localPort;
  if (addr && port) {
    const host = addr.startsWith('::ffff:') ? addr.slice('::ffff:'.length) : addr;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  return event.url.origin;
}

function errorMessage(body: unknown, status: number): string {
  const e = (body as { error?: { message?: unknown } } | null)?.error;
  if (e && typeof e.message === 'string' && e.message) return e.message;
  return `The admin API answered ${status}.`;
}

/** One admin API call with the master key (if any); network failures become a message. */
export async function adminCall(base: string, masterKey: string | undefined, method: 'POST' | 'DELETE', path: string, body?: object): Promise<AdminCallResult> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (masterKey !== undefined) headers['authorization'] = `Bearer ${masterKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    console.error('gatelog ui: admin API unreachable', (err as { name?: string }).name);
    return { ok: false, status: 502, body: null, message: 'The admin API could not be reached.' };
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    parsed = null;
  }
  return { ok: res.ok, status: res.status, body: parsed, message: res.ok ? '' : errorMessage(parsed, res.status) };
}
