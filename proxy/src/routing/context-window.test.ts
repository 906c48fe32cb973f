import { describe, expect, it } from 'vitest';
import { isContextWindowError } from './context-window.ts';

const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('context window errors', () => {
  it('OpenAI: code context_length_exceeded', () => {
    expect(isContextWindowError(400, body({ error: { message: "This model's maximum context length is 128000 tokens", type: 'invalid_request_error', code: 'context_length_exceeded' } }))).toBe(true);
  });
  it('Anthropic: invalid_request_error "prompt is too long"', () => {
    expect(isContextWindowError(400, body({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }))).toBe(true);
  });
  it('other 400s, other statuses and non-JSON bodies are not', () => {
    expect(isContextWindowError(400, body({ error: { message: 'bad temperature', type: 'invalid_request_error', code: null } }))).toBe(false);
    expect(isContextWindowError(500, body({ error: { code: 'context_length_exceeded' } }))).toBe(false);
    expect(isContextWindowError(400, Buffer.from('<html>bad gateway</html>'))).toBe(false);
  });
});
