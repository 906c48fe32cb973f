// What `gatelog audit` and `gatelog export` share: a GET against a running gatelog's admin API
// with the master key (sent only in the Authorization header), and CLI date parsing.
import { CliError } from './keys-cli.ts';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

/** An ISO date (`2026-12-01`, midnight UTC) or date-time (UTC when no zone is given), as ISO. */
export function isoDate(v: string, flag: string): string {
  const s = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(v) ? `${v}Z` : v;
  const t = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(s) ? Date.parse(s) : NaN;
  if (!Number.isFinite(t)) throw new CliError(`${flag}: expected an ISO date or date-time (e.g. 2026-12-01 or 2026-12-01T08:00:00Z), got "${v}"`, 2);
  return new Date(t).toISOString();
}

export async function adminFetch(base: string, path: string, masterKey: string | undefined, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (masterKey) headers['authorization'] = `Bearer ${masterKey}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { headers, redirect: 'error', ...(signal ? { signal } : {}) });
  } catch (err) {
    throw new CliError(`could not reach gatelog at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: the text as it came
    }
    const hint = res.status === 401 ? ' (set GATELOG_MASTER_KEY to the master key of the running gatelog)' : '';
    throw new CliError(`${res.status}: ${message}${hint}`);
  }
  return res;
}
