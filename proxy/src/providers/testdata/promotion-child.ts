// Child process of ../undici-patch.test.ts (run with --expose-gc): how many bytes per request
// an undici Pool's `request()` leaves to be promoted to the old generation. Prints one JSON line.
import { createServer } from 'node:http';
import { GCProfiler } from 'node:v8';
import { Pool } from 'undici';

const REQUESTS = 4000;
const LOOPS = 16;
const body = Buffer.from(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'hello '.repeat(40) } }] }));
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: LOOPS });

const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

let sent = 0;
async function loop(n: number): Promise<void> {
  while (sent < n) {
    sent++;
    const ac = new AbortController();
    const r = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}', signal: ac.signal });
    const chunks: Buffer[] = [];
    r.body.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => r.body.on('end', resolve));
    if (sent % 250 === 0) gc!({ type: 'minor' });
  }
}

await Promise.all(Array.from({ length: LOOPS }, () => loop(500)));
gc({ type: 'major' });
sent = 0;
const profiler = new GCProfiler();
profiler.start();
await Promise.all(Array.from({ length: LOOPS }, () => loop(REQUESTS)));
gc({ type: 'minor' });
gc({ type: 'minor' });
const stats = profiler.stop()?.statistics ?? [];
const old = (s: { heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[] }): number => s.heapSpaceStatistics.find((x) => x.spaceName === 'old_space')?.spaceUsedSize ?? 0;
let promoted = 0;
let scavenges = 0;
for (const s of stats) {
  if (s.gcType !== 'Scavenge') continue;
  scavenges++;
  promoted += Math.max(0, old(s.afterGC) - old(s.beforeGC));
}
process.stdout.write(JSON.stringify({ requests: REQUESTS, scavenges, promotedPerRequest: Math.round(promoted / REQUESTS) }) + '\n');
await pool.close();
server.close();
