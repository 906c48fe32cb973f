// The keys page's writes go through the proxy's own admin API (POST /admin/keys, DELETE
// /admin/keys/:id), so the UI never re-implements key creation, hashing, audit or the key-ring
// reload. Server-side only: the master key travels from this process to the admin API and
// never into a page, cookie or URL.
import type { RequestEvent } from '@sveltejs/kit';

export { adminCall, type AdminCallResult } from './admin-call.server.ts';

/** An admin API status as a form action's failure: fail() takes 4xx/5xx only; anything else is a bad gateway here. */
export const failStatus = (s: number): number => (s >= 400 && s <= 599 ? s : 502);

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
