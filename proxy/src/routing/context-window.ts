// "The prompt is longer than this model's context": OpenAI says so with error.code
// context_length_exceeded; Anthropic with a 400 invalid_request_error whose message starts
// "prompt is too long" (its only signal, documented in its errors guide). Only 400/413 bodies
// are looked at, and only when small.
const MAX_SCAN = 64 * 1024;

export function isContextWindowError(status: number, body: Buffer): boolean {
  if ((status !== 400 && status !== 413) || body.length > MAX_SCAN) return false;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  const e = v && typeof v === 'object' ? (v as { error?: unknown }).error : undefined;
  if (!e || typeof e !== 'object') return false;
  const { code, type, message } = e as { code?: unknown; type?: unknown; message?: unknown };
  if (code === 'context_length_exceeded' || type === 'context_length_exceeded') return true;
  return typeof message === 'string' && /^prompt is too long/i.test(message);
}
