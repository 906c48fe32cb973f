// One admin API call from the UI's server (keys, audit rows, sessions), with the master key.
// Kept apart from admin-api.server.ts (SvelteKit request types) so that modules the root type
// check also loads, such as the session service, can use it.
import { ACTING_FOR_HEADER, actingForValue } from '@gatelog/core/acting-for';
import type { Principal } from '@gatelog/core/roles';

export interface AdminCallResult {
  ok: boolean;
  status: number;
  /** The parsed JSON body (null when the body was not JSON). */
  body: unknown;
  /** The API's error message (its `error.message`), or a generic one; empty when ok. */
  message: string;
}

function errorMessage(body: unknown, status: number): string {
  const e = (body as { error?: { message?: unknown } } | null)?.error;
  if (e && typeof e.message === 'string' && e.message) return e.message;
  return `The admin API answered ${status}.`;
}

/**
 * One admin API call with the master key (if any); network failures become a message. `as`: the
 * signed-in person the call is made for, whose role and teams the API then checks and audits
 * (core/src/acting-for.ts); the master key's own holder and an open gatelog send nobody.
 */
export async function adminCall(base: string, masterKey: string | undefined, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: object, timeoutMs = 10_000, as?: Principal): Promise<AdminCallResult> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (masterKey !== undefined) headers['authorization'] = `Bearer ${masterKey}`;
  if (as && as.kind !== 'master' && as.kind !== 'open') headers[ACTING_FOR_HEADER] = actingForValue(as);
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    console.error('gatelog ui: admin API unreachable', (err as { name?: string }).name);
    return { ok: false, status: 502, body: null, message: 'The admin API could not be reached.' };
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    parsed = null;
  }
  return { ok: res.ok, status: res.status, body: parsed, message: res.ok ? '' : errorMessage(parsed, res.status) };
}
