// The benchmark's floor: a bare fastify + undici passthrough that parses nothing, forwards
// the request bytes with an undici Pool and streams the response back. Whatever gatelog adds
// on top of this (routing, capture, events) is its own cost.
// Run as a child: `node test/bench/passthrough.ts <upstream origin>` prints
// {"msg":"passthrough listening","url":...}.
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

export function buildPassthrough(upstream: string): { app: FastifyInstance; pool: Pool } {
  const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 60_000 });
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  // Leave the body unread: undici pipes the raw request stream upstream.
  app.addContentTypeParser('*', (_req, _payload, done) => {
    done(null);
  });
  app.all('/v1/*', async (request, reply) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) {
      if (typeof v === 'string' && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const res = await pool.request({
      method: request.method as 'POST',
      path: request.url,
      headers,
      body: hasBody ? request.raw : null,
    });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    reply.code(res.statusCode).headers(out);
    return reply.send(res.body);
  });
  return { app, pool };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const upstream = process.argv[2];
  if (!upstream) throw new Error('usage: passthrough.ts <upstream origin>');
  const { app } = buildPassthrough(upstream);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ msg: 'passthrough listening', url })}\n`);
  // Exit normally on SIGTERM so Node flags like --cpu-prof can write their output.
  process.once('SIGTERM', () => process.exit(0));
}
