// A webhook receiver on 127.0.0.1:0 for alert tests: records every request (headers, raw body,
// arrival time) and answers with the status `respond` picks (default 200; 0 = never answer).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  respond: (r: Received) => number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const rx: WebhookReceiver = { url: '', received, respond: () => 200, close: () => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      received.push(r);
      const status = rx.respond(r);
      if (status > 0) res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  rx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return rx;
}

/**
 * The README's verification recipe: `x-gatelog-signature: t=<unix>,v1=<hex>` over `<t>.<body>`,
 * refused outside the replay window.
 */
export function verifySignature(secret: string, header: string | undefined, body: string, nowS: number, windowS = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowS - t) > windowS) return false;
  const want = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'));
}
