import { describe, expect, it } from 'vitest';
import { badCredentialHeader } from './client-error.ts';

const req = (lines: string[]): Buffer => Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n{}`, 'latin1');

describe('badCredentialHeader', () => {
  it('spots control bytes in Authorization or x-api-key only', () => {
    expect(badCredentialHeader(req(['Host: x', 'Authorization: Bearer gl-a\u0000b']))).toBe(true);
    expect(badCredentialHeader(req(['x-api-key: gl-\u0001']))).toBe(true);
    expect(badCredentialHeader(req(['AUTHORIZATION : Bearer \u0000']))).toBe(true);
    expect(badCredentialHeader(req(['Host: x', 'Authorization: Bearer fine', 'X-Other: bad\u0000']))).toBe(false);
    expect(badCredentialHeader(req(['Authorization: Bearer caf\u00e9']))).toBe(false);
    expect(badCredentialHeader(undefined)).toBe(false);
  });
});
