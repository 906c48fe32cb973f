// A misbehaving OpenAI-compatible upstream in a process of its own, so that pumping hundreds
// of megabytes does not load the test process that times the steady tenant. Run as a script:
//   node flood-upstream.ts stream <events> <pieceBytes>  a chat stream of whitespace-free content,
//                                                        finish reason and [DONE], never any usage
//   node flood-upstream.ts line <megabytes>              one `data:` line that never ends
// It prints {"port":N} once listening and serves until killed. startFloodUpstream() runs it.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { killChild, killIfNotReady } from '../support/child-start.ts';
import { startAbuseGatelog, startUpstream, wellBehaved, type AbuseGatelog } from './harness.ts';

const base = { id: 'chatcmpl-flood', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-flood' };
const frame = (v: unknown): Buffer => Buffer.from(`data: ${JSON.stringify(v)}\n\n`);

function serve(mode: string, a: number, b: number): void {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void (async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(frame({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
        const write = async (buf: Buffer): Promise<void> => {
          if (!res.write(buf)) await new Promise((r) => res.once('drain', r));
        };
        if (mode === 'stream') {
          const piece = frame({ ...base, choices: [{ index: 0, delta: { content: 'abcdefghijkl'.repeat(Math.floor(b / 12)) }, finish_reason: null }] });
          for (let i = 0; i < a && !res.destroyed; i++) await write(piece);
          res.end(Buffer.concat([frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), Buffer.from('data: [DONE]\n\n')]));
        } else {
          const mb = Buffer.alloc(1024 * 1024, 0x61);
          await write(Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"'));
          for (let i = 0; i < a && !res.destroyed; i++) await write(mb);
          res.end();
        }
      })().catch(() => res.destroy());
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
}

export interface FloodUpstream {
  baseUrl: string;
  pid: number;
  close(): Promise<void>;
}

export function startFloodUpstream(args: [mode: 'stream', events: number, pieceBytes: number] | [mode: 'line', megabytes: number]): Promise<FloodUpstream> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return killIfNotReady(proc, new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('flood upstream not listening within 30 s')), 30_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`flood upstream exited (${code})`));
    });
    proc.stdout.once('data', (d: Buffer) => {
      clearTimeout(timer);
      let port: number;
      try {
        ({ port } = JSON.parse(d.toString()) as { port: number });
      } catch (err) {
        reject(err as Error);
        return;
      }
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        pid: proc.pid!,
        close: () => killChild(proc),
      });
    });
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve(process.argv[2] ?? 'stream', Number(process.argv[3] ?? 0), Number(process.argv[4] ?? 0));

/**
 * A streamed chat call by curl (a process of its own: reading hundreds of megabytes must not
 * load the test process either). Returns the status, the gatelog request id, the bytes read
 * and the last 300 bytes of the body.
 */
export async function curlChat(url: string, secret: string, body: unknown): Promise<{ status: number; id: string; bytes: number; tail: string }> {
  const { execFile } = await import('node:child_process');
  const script = 'curl -sS -N -D "$HDRS" -H "authorization: Bearer $SECRET" -H "content-type: application/json" --data-binary "$BODY" "$URL" | tee >(wc -c > "$COUNT") | tail -c 300';
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-curl-'));
  const env = { ...process.env, HDRS: join(dir, 'h'), COUNT: join(dir, 'n'), SECRET: secret, BODY: JSON.stringify(body), URL: `${url}/v1/chat/completions` };
  const tail = await new Promise<string>((resolve, reject) =>
    execFile('bash', ['-c', script], { env, maxBuffer: 1 << 20, timeout: 110_000 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
  await new Promise((r) => setTimeout(r, 100)); // wc's output lands after tail's
  const headers = readFileSync(join(dir, 'h'), 'utf8');
  return {
    status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0),
    id: /^x-gatelog-request-id: (\S+)/im.exec(headers)?.[1] ?? '',
    bytes: Number(readFileSync(join(dir, 'n'), 'utf8').trim()),
    tail,
  };
}

/**
 * A flooding upstream behind model `alias`, a well-behaved one behind `fast`, and a gatelog
 * in front of both: the setup every flood test shares. `close()` stops all three.
 */
export async function startFloodScene(args: Parameters<typeof startFloodUpstream>[0], alias: string): Promise<{ gl: AbuseGatelog; close(): Promise<void> }> {
  const flood = await startFloodUpstream(args);
  // A part that fails to start stops the parts started before it (the flood upstream is a process).
  const steady = await startUpstream(wellBehaved()).catch(async (err: unknown) => {
    await flood.close();
    throw err;
  });
  const gl = await startAbuseGatelog({
    config: {
      providers: { flood: { kind: 'openai', base_url: flood.baseUrl, api_key: 'sk-flood' }, steady: { kind: 'openai', base_url: steady.baseUrl, api_key: 'sk-steady' } },
      models: [
        { name: alias, deployments: [{ provider: 'flood', model: 'gpt-flood' }] },
        { name: 'fast', deployments: [{ provider: 'steady', model: 'gpt-fast' }] },
      ],
    },
  }).catch(async (err: unknown) => {
    await flood.close();
    await steady.close();
    throw err;
  });
  return {
    gl,
    async close() {
      await gl.stop();
      await flood.close();
      await steady.close();
    },
  };
}
