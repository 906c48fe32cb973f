// What the relay tells the client about the upstream's answer: which upstream response headers
// pass (request ids, rate limits, retry-after), gatelog's own, and where an SSE event ends (so
// a keepalive comment never splits one).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Upstream response headers worth passing to the client (request ids, rate limits). */
export function passHeader(name: string): boolean {
  return (
    name === 'x-request-id' || name === 'retry-after' || name.startsWith('openai-') || name.startsWith('x-ratelimit-') ||
    // Anthropic: request-id, anthropic-ratelimit-*, anthropic-organization-id; ours: x-gatelog-tokens-estimated.
    name === 'request-id' || name.startsWith('anthropic-') || name === 'x-gatelog-tokens-estimated'
  );
}

export function clientHeaders(up: IncomingHttpHeaders, requestId: string, sse: boolean): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = { 'content-type': up['content-type'] ?? (sse ? 'text/event-stream' : 'application/json'), 'x-gatelog-request-id': requestId };
  if (sse) h['cache-control'] = 'no-cache';
  for (const name in up) if (passHeader(name)) h[name] = up[name];
  return h;
}

/** Whether a write ends on an SSE event boundary (blank line, LF or CRLF). */
export function endsEvent(buf: Buffer): boolean {
  const n = buf.length;
  if (n < 2 || buf[n - 1] !== 0x0a) return false;
  return buf[n - 2] === 0x0a || (n >= 4 && buf[n - 2] === 0x0d && buf[n - 3] === 0x0a);
}
