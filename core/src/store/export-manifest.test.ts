import { describe, expect, it } from 'vitest';
import { auditedChunks, type DigestedExport } from './export-manifest.ts';

function exportOf(parts: string[], audit: Error | null): DigestedExport {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield Buffer.from(p);
  }
  return { exportId: 'x', chunks: chunks(), digest: () => ({ rows: parts.length, bytes: 0, sha256: '' }), audited: Promise.resolve(audit) };
}

async function read(ex: DigestedExport): Promise<{ text: string; error?: unknown }> {
  let text = '';
  try {
    for await (const c of auditedChunks(ex)) text += Buffer.from(c).toString();
    return { text };
  } catch (error) {
    return { text, error };
  }
}

describe('auditedChunks', () => {
  it('passes every byte through and ends cleanly once the audit row is written', async () => {
    expect(await read(exportOf(['a,b\r\n', '1,2\r\n'], null))).toEqual({ text: 'a,b\r\n1,2\r\n' });
  });

  it('ends in an error, after the bytes, when the audit row could not be written', async () => {
    const cause = new Error('admin_audit unavailable');
    const r = await read(exportOf(['a,b\r\n'], cause));
    expect(r.text).toBe('a,b\r\n');
    expect(r.error).toBeInstanceOf(Error);
    expect((r.error as Error).message).toMatch(/audit trail/);
    expect((r.error as Error).cause).toBe(cause);
  });
});
