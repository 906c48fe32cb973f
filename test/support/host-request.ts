// Requests with a Host header of the test's choosing (DNS-rebinding tests of every surface).
import { request } from 'node:http';

export interface HostAnswer {
  status: number;
  type: string;
  body: string;
}

/** node:http, so the Host header is exactly what we say (fetch would not let us set it). */
export function sendWithHost(base: string, method: string, path: string, host: string, body?: unknown, headers: Record<string, string> = {}): Promise<HostAnswer> {
  const u = new URL(base);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          host,
          ...(payload !== undefined ? { 'content-type': typeof body === 'string' ? 'application/x-www-form-urlencoded' : 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
