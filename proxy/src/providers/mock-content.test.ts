import { describe, expect, it } from 'vitest';
import { mockCompletion, mockEmbeddings, splitReply } from './mock-content.ts';

describe('mock content', () => {
  it('replies deterministically to the last user message', () => {
    const body = { messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: [{ type: 'text', text: 'Hi there' }] }] };
    const a = mockCompletion('openai.chat', body);
    expect(a.reply).toBe('Mock reply to: Hi there');
    expect(mockCompletion('openai.chat', body)).toEqual(a);
    expect(a.promptTokens).toBeGreaterThan(0);
    expect(mockCompletion('openai.completions', { prompt: 'abc' }).reply).toBe('Mock reply to: abc');
  });

  it('splits a reply into several pieces that join back exactly', () => {
    const parts = splitReply('Mock reply to: one two three four five six seven');
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.join('')).toBe('Mock reply to: one two three four five six seven');
  });

  it('embeds deterministically, as unit vectors, in float or base64', () => {
    const f = JSON.parse(mockEmbeddings('mock-embed', { input: ['a', 'b'], dimensions: 8 })) as { data: { embedding: number[] }[]; usage: { prompt_tokens: number } };
    const g = JSON.parse(mockEmbeddings('mock-embed', { input: ['a', 'b'], dimensions: 8 })) as typeof f;
    expect(f).toEqual(g);
    expect(f.data[0]!.embedding).toHaveLength(8);
    expect(f.data[0]!.embedding).not.toEqual(f.data[1]!.embedding);
    expect(Math.hypot(...f.data[0]!.embedding)).toBeCloseTo(1, 5);
    const b = JSON.parse(mockEmbeddings('mock-embed', { input: 'a', dimensions: 8, encoding_format: 'base64' })) as { data: { embedding: string }[] };
    const buf = Buffer.from(b.data[0]!.embedding, 'base64');
    const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
    expect(decoded).toEqual(f.data[0]!.embedding);
  });
});
