// An HTTP hop in front of a ClickHouse (the HTTP fixture) that can hold one client's INSERTs
// before they reach the server, as a slow network or a busy server would: the rows are not
// stored until the gate opens, while other clients' reads and writes go on. Used to put a
// worker's insert in flight at a chosen moment (a rebalance) deterministically.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InsertGate {
  url: string;
  /** INSERTs that arrived while closed and wait for open(). */
  held(): number;
  close(): void;
  open(): void;
  stop(): Promise<void>;
}

export async function startInsertGate(target: string): Promise<InsertGate> {
  const to = new URL(target);
  let closed = false;
  const waiting: (() => void)[] = [];
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse): void => {
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      const insert = /^\s*INSERT\b/i.test(query) || /^\s*INSERT\b/i.test(body.subarray(0, 64).toString('latin1'));
      if (closed && insert) waiting.push(() => forward(req, body, res));
      else forward(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const open = (): void => {
    closed = false;
    for (const go of waiting.splice(0)) go();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.length,
    close: () => {
      closed = true;
    },
    open,
    async stop() {
      open();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
