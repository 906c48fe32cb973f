import { describe, expect, it } from 'vitest';
import { scanJsonField } from './json-scan.ts';

describe('scanJsonField', () => {
  const body = JSON.stringify({
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.2, 3e-5] }, { note: 'a "usage": {"prompt_tokens": 999} inside a string' }],
    model: 'text-embedding-3-small',
    usage: { prompt_tokens: 8, total_tokens: 8, details: { cached_tokens: 1 } },
  });

  it('reads top-level fields as JSON.parse would', () => {
    const full = JSON.parse(body) as Record<string, unknown>;
    expect(scanJsonField(body, 'usage', true)).toEqual(full['usage']);
    expect(scanJsonField(body, 'model')).toBe(full['model']);
    expect(scanJsonField(body, 'object')).toBe('list');
    expect(scanJsonField(body, 'index')).toBe(0);
  });

  it('handles whitespace, null and absent keys', () => {
    expect(scanJsonField('{ "usage" : null }', 'usage', true)).toBeNull();
    expect(scanJsonField('{\n  "finish_reason": "stop",\n  "x": 1\n}', 'finish_reason')).toBe('stop');
    expect(scanJsonField('{"a":1}', 'usage', true)).toBeUndefined();
    expect(scanJsonField('{"usage":{"a":', 'usage', true)).toBeUndefined();
  });

  it('never matches an escaped key inside a string', () => {
    expect(scanJsonField('{"content":"say \\"model\\": x","model":"m-1"}', 'model')).toBe('m-1');
  });
});
