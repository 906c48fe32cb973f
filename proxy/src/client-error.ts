// Requests Node's HTTP parser refuses before fastify sees them (bad header bytes, oversized
// headers, timeouts). A credential header with control bytes (NUL, …) is an authentication
// failure, answered 401 like any other malformed key; nothing of the request is echoed.
import type { Socket } from 'node:net';

const CREDENTIAL_LINE = /^(authorization|x-api-key)[ \t]*:(.*)$/i;
// Header value bytes HTTP allows: HTAB, SP–~ and obs-text (0x80–0xff).
const BAD_VALUE_BYTE = /[^\t\x20-\x7e\x80-\xff]/;

/** True when the raw request's Authorization or x-api-key value holds a forbidden byte. */
export function badCredentialHeader(raw: Buffer | undefined): boolean {
  if (!raw) return false;
  const head = raw.toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  for (const line of (end >= 0 ? head.slice(0, end) : head).split('\r\n').slice(1)) {
    const m = CREDENTIAL_LINE.exec(line);
    if (m && BAD_VALUE_BYTE.test(m[2]!)) return true;
  }
  return false;
}

function answer(socket: Socket, status: number, reason: string, code: string, type: string, message: string): void {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
}

/** fastify's `clientErrorHandler`. */
export function clientErrorHandler(e: Error, socket: Socket): void {
  // Node puts the bytes it read on the error (typed loosely by fastify).
  const err = e as Error & { code?: string; rawPacket?: unknown };
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer(socket, 408, 'Request Timeout', 'request_timeout', 'invalid_request_error', 'The request took too long to arrive.');
    else if (err.code === 'HPE_HEADER_OVERFLOW') answer(socket, 431, 'Request Header Fields Too Large', 'headers_too_large', 'invalid_request_error', 'Request headers are too large.');
    else if (badCredentialHeader(Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined)) answer(socket, 401, 'Unauthorized', 'invalid_api_key', 'authentication_error', 'The API key is malformed.');
    else answer(socket, 400, 'Bad Request', 'malformed_request', 'invalid_request_error', 'The HTTP request is malformed.');
  }
  socket.destroy();
}
