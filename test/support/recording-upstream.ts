// A recording hop in front of a fake provider: node:http on 127.0.0.1, port 0, forwarding each
// request to `target` and its answer back chunk by chunk, and keeping the exact bytes of both
// (request body as received, response body as sent). Each answer carries a fresh request id in
// `idHeader` (replacing the fake's fixed one), so a stored provider request id names one exchange.
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  path: string;
  /** Request body bytes exactly as this hop received them. */
  request: Buffer;
  status: number;
  /** Response body bytes exactly as this hop sent them. */
  response: Buffer;
  /** The id sent in `idHeader`. */
  requestId: string;
  /** performance.now() when the request had arrived whole (orders exchanges across hops). */
  at: number;
}

export interface RecordingUpstream {
  url: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

function forwardable(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

export async function startRecordingUpstream(target: string, idHeader: string, idPrefix: string): Promise<RecordingUpstream> {
  const exchanges: Exchange[] = [];
  const to = new URL(target);
  let n = 0;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const requestId = `${idPrefix}-${++n}`;
      const ex: Exchange = { path: req.url ?? '', request: body, status: 0, response: Buffer.alloc(0), requestId, at: performance.now() };
      exchanges.push(ex);
      const up = request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...forwardable(req.headers), 'content-length': body.length } },
        (ur) => {
          ex.status = ur.statusCode ?? 0;
          const headers = forwardable(ur.headers);
          delete headers['x-request-id'];
          delete headers['request-id'];
          headers[idHeader] = requestId;
          res.writeHead(ex.status, headers);
          const sent: Buffer[] = [];
          ur.on('data', (c: Buffer) => {
            sent.push(c);
            res.write(c);
          });
          ur.on('end', () => {
            ex.response = Buffer.concat(sent);
            res.end();
          });
          ur.on('error', () => res.destroy());
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
