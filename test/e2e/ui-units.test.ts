// Pure pieces of the UI (body parsing, URL filters, session tokens), table-driven. They live
// in ui/src/lib; the root vitest run picks their tests up here.
import { describe, expect, it } from 'vitest';
import { promptPreview, requestMessages, responseMessages } from '../../ui/src/lib/bodies.ts';
import { listQuery, parseCursor, parseFilters } from '../../ui/src/lib/filters.ts';
import { safeNext } from '../../ui/src/lib/server/session.server.ts';

describe('requestMessages', () => {
  it('keeps OpenAI chat content exactly, parts as text and image placeholders', () => {
    const body = JSON.stringify({
      model: 'm',
      messages: [
        { role: 'system', content: '  spaced\n<b>x</b>  ' },
        { role: 'user', content: [{ type: 'text', text: 'look:' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'result' },
      ],
    });
    expect(requestMessages(body)).toEqual([
      { role: 'system', note: '', parts: [{ kind: 'text', text: '  spaced\n<b>x</b>  ' }] },
      { role: 'user', note: '', parts: [{ kind: 'text', text: 'look:' }, { kind: 'image', label: 'image (inline image/png)' }] },
      { role: 'assistant', note: '', parts: [{ kind: 'data', label: 'tool call: f (c1)', text: '{"a":1}' }] },
      { role: 'tool', note: 'c1', parts: [{ kind: 'text', text: 'result' }] },
    ]);
  });

  it('reads Anthropic system + blocks, completions prompts, and gives up on non-JSON', () => {
    const anthropic = JSON.stringify({ system: 'sys', messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }] });
    expect(requestMessages(anthropic)).toEqual([
      { role: 'system', note: '', parts: [{ kind: 'text', text: 'sys' }] },
      { role: 'user', note: '', parts: [{ kind: 'image', label: 'image: https://x/y.png' }] },
    ]);
    expect(requestMessages(JSON.stringify({ prompt: ['a', 'b'] }))?.map((m) => m.parts)).toEqual([[{ kind: 'text', text: 'a' }], [{ kind: 'text', text: 'b' }]]);
    expect(requestMessages('{"messages":[{"role":"user","content":"cut')).toBeNull();
    expect(requestMessages('[1,2]')).toBeNull();
  });
});

describe('responseMessages', () => {
  it('reads chat completions, Anthropic messages and SSE streams; null for anything else', () => {
    expect(responseMessages(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'hi <x>' } }] }))).toEqual([
      { role: 'assistant', note: '', parts: [{ kind: 'text', text: 'hi <x>' }] },
    ]);
    expect(responseMessages(JSON.stringify({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'yo' }] }))?.[0]?.parts).toEqual([{ kind: 'text', text: 'yo' }]);
    const sse = ['data: {"choices":[{"delta":{"content":"Hel"}}]}', 'data: {"choices":[{"delta":{"content":"lo"}}]}', 'data: [DONE]', ''].join('\n\n');
    expect(responseMessages(sse)).toEqual([{ role: 'assistant', note: 'streamed', parts: [{ kind: 'text', text: 'Hello' }] }]);
    expect(responseMessages(JSON.stringify({ error: { message: 'nope' } }))).toBeNull();
    expect(responseMessages('plain text')).toBeNull();
  });
});

describe('promptPreview', () => {
  it.each([
    ['{"model":"m","messages":[{"role":"user","content":"hi \\"there\\"\\nyou', 'hi "there" you'],
    ['{"prompt":"caf\\u00e9', 'café'],
    ['{"input":"x\\', 'x'],
    ['no json here', 'no json here'],
  ])('%s', (prefix, want) => {
    expect(promptPreview(prefix)).toBe(want);
  });
});

describe('filters and cursor', () => {
  it('parses strictly and round-trips through the query string', () => {
    const f = parseFilters(new URLSearchParams('model=gpt%204&status=bogus&key=%20k%20'));
    expect(f).toEqual({ model: 'gpt 4', status: '', key: 'k' });
    const cursor = { startedAt: '2026-01-02T03:04:05.678Z', requestId: '01a20801-6f1c-7440-aaf2-212727f5d890' };
    const q = new URLSearchParams(listQuery({ ...f, status: 'error' }, cursor).slice(1));
    expect(q.get('status')).toBe('error');
    expect(parseCursor(q.get('before'))).toEqual(cursor);
    expect(parseCursor("2026-01-02T03:04:05.678Z_1' OR 1=1")).toBeUndefined();
    expect(parseCursor('garbage')).toBeUndefined();
  });
});

describe('post-login destination', () => {
  it('accepts only local paths as the post-login destination', () => {
    expect(safeNext('/requests?x=1')).toBe('/requests?x=1');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example', '', null, '/login']) expect(safeNext(bad)).toBe('/requests');
  });
});
