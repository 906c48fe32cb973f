// The master key as a credential, one rule for every gatelog service that takes it (the proxy's
// /metrics, ingest's /metrics): where the client presents it (`Authorization: Bearer <key>` or
// `x-api-key: <key>`), how it is compared (SHA-256 digests, so in constant time whatever the
// lengths) and the 401 a wrong or missing key gets. What the client sent is never echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The key the client presented, or undefined. */
export function presentedKey(h: IncomingHttpHeaders): string | undefined {
  const auth = h.authorization;
  if (typeof auth === 'string' && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim();
  const x = h['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x.trim() : undefined;
}

/** A refused request: the fields of the OpenAI-shaped error every gatelog surface answers with. */
export interface KeyRefusal {
  status: 401;
  code: 'invalid_api_key';
  type: 'authentication_error';
  message: string;
}

export const MISSING_KEY: KeyRefusal = {
  status: 401,
  code: 'invalid_api_key',
  type: 'authentication_error',
  message: 'Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".',
};

export const WRONG_KEY: KeyRefusal = { status: 401, code: 'invalid_api_key', type: 'authentication_error', message: 'Incorrect API key provided.' };

export type MasterKeyCheck = (h: IncomingHttpHeaders) => KeyRefusal | null;

/** Whether a presented key is the master key; null when no master key is configured (open). */
export function masterKeyMatcher(masterKey: string | undefined): ((presented: string) => boolean) | null {
  if (masterKey === undefined || masterKey === '') return null;
  const expected = digest(masterKey);
  return (presented) => timingSafeEqual(digest(presented), expected);
}

/** Master key only: null when the key is right; the check is null when no master key is configured (open). */
export function createMasterKeyCheck(masterKey: string | undefined): MasterKeyCheck | null {
  const matches = masterKeyMatcher(masterKey);
  if (!matches) return null;
  return (h) => {
    const key = presentedKey(h);
    if (key === undefined) return MISSING_KEY;
    return matches(key) ? null : WRONG_KEY;
  };
}

/** The error body, as the proxy's openAiErrorBody writes it: `{"error":{message,type,param,code}}`. */
export function keyRefusalBody(r: KeyRefusal): string {
  return JSON.stringify({ error: { message: r.message, type: r.type, param: null, code: r.code } });
}
