import { describe, expect, it } from 'vitest';
import { mockFiles, MOCK_BATCH_MS } from './mock-batches.ts';
import { nonStreamBody } from './mock.ts';

const json = (b: Buffer): Record<string, unknown> => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

describe('mock Files and Batches APIs', () => {
  it('takes an upload, runs a batch through validating → in_progress → completed, and writes one mock answer a line', async () => {
    let t = 1_000_000;
    const api = mockFiles(nonStreamBody, () => t);
    const fd = new FormData();
    fd.set('purpose', 'batch');
    const lines = ['a', 'b'].map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-chat', messages: [{ role: 'user', content: `hi ${id}` }] } }));
    fd.set('file', new Blob([lines.join('\n')]), 'in.jsonl');
    const r = new Response(fd);
    const up = await api.send({ method: 'POST', path: '/files', body: Buffer.from(await r.arrayBuffer()), contentType: r.headers.get('content-type')! }, 1 << 20);
    const file = json(up.body);
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'in.jsonl', status: 'processed' });
    const created = json((await api.send({ method: 'POST', path: '/batches', body: Buffer.from(JSON.stringify({ input_file_id: file['id'], endpoint: '/v1/chat/completions', completion_window: '24h' })) }, 1 << 20)).body);
    expect(created['status']).toBe('validating');
    const get = async (): Promise<Record<string, unknown>> => json((await api.send({ method: 'GET', path: `/batches/${created['id'] as string}` }, 1 << 20)).body);
    t += 500;
    expect((await get())['status']).toBe('in_progress');
    t += MOCK_BATCH_MS;
    const done = await get();
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } });
    const out = (await api.send({ method: 'GET', path: `/files/${done['output_file_id'] as string}/content` }, 1 << 20)).body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: { object: string } } });
    expect(out.map((l) => [l.custom_id, l.response.status_code, l.response.body.object])).toEqual([['a', 200, 'chat.completion'], ['b', 200, 'chat.completion']]);
    expect((await api.send({ method: 'GET', path: '/batches/batch_nope' }, 1 << 20)).status).toBe(404);
    expect(json((await api.send({ method: 'DELETE', path: `/files/${file['id'] as string}` }, 1 << 20)).body)).toMatchObject({ deleted: true });
  });
});
