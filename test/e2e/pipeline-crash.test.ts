// The durability promise end to end: once a client has its response, the call is recorded.
// kill -9 gatelog right after the last response, restart it on the same data dir, and every
// call must be in ClickHouse exactly once (the log replays; FINAL hides replayed duplicates).
//
// chDB allows one on-disk path per process: the test opens the store only after the gatelog
// child has exited.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { LocalLogReader, OffsetFile, countCalls, openStore, type Store } from '@gatelog/core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const N = 60;
const CONCURRENCY = 6;
// The built-in defaults, with batching set so the kill always finds events in the log that
// ingest has not committed (60 = 2 full batches + 10 waiting for a timer that never fires).
const CONFIG = {
  providers: { mock: { kind: 'mock' } },
  models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
  ingest: { batch_rows: 25, batch_ms: 600_000 },
};

async function chat(url: string, i: number): Promise<string> {
  const stream = i % 2 === 0;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-chat', stream, messages: [{ role: 'user', content: `call ${i}` }] }),
  });
  const body = await res.text(); // the whole response, stream included, has reached the client
  expect(res.status, body).toBe(200);
  if (stream) expect(body).toContain('data: [DONE]');
  const id = res.headers.get('x-gatelog-request-id');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id!;
}

describe('pipeline crash safety', () => {
  const procs: GatelogProcess[] = [];
  let store: Store | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    for (const p of procs) await p.kill9();
    await store?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('kill -9 after the responses were sent, restart: every call lands exactly once', { timeout: 90_000 }, async () => {
    const first = await startGatelog({ config: CONFIG });
    procs.push(first);
    dataDir = first.dataDir;

    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) ids.push(await chat(first.url, next++));
      }),
    );
    await first.kill9();
    expect(first.proc.signalCode).toBe('SIGKILL');
    expect(new Set(ids).size).toBe(N);

    // Precondition: the kill left appended but uncommitted events for the restart to replay.
    const committed = new OffsetFile(join(dataDir, 'ingest.offset')).load();
    expect(committed).toBeLessThan(new LocalLogReader(join(dataDir, 'events')).endOffset());

    const second = await startGatelog({ dataDir, config: CONFIG });
    procs.push(second);
    // A clean stop drains the log (the last partial batch included) before exiting.
    await second.stop();
    expect(second.proc.exitCode, second.logs()).toBe(0);

    store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dataDir);
    const rs = await store.client.query({
      query: 'SELECT toString(request_id) AS id, count() AS n FROM gatelog.llm_calls FINAL WHERE request_id IN {ids:Array(UUID)} GROUP BY id',
      query_params: { ids },
      format: 'JSONEachRow',
    });
    const found = new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
    expect(ids.filter((id) => found.get(id) !== 1)).toEqual([]);
    expect(await countCalls(store)).toEqual({ rows: N, distinct: N });
  });
});
