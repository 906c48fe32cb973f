// `gatelog keys …`: manage virtual keys of a running gatelog through its admin API.
//   gatelog keys create --name app-x [--team T] [--owner O] [--models a,b] [--budget USD]
//                       [--period daily|weekly|monthly|none] [--rpm N] [--tpm N] [--parallel N]
//                       [--expires 30d|ISO] [--meta k=v …]
//                       [--user-rpm N] [--user-tpm N] [--user-budget USD]
//                       [--user-period daily|weekly|monthly|none] [--require-user]
//   gatelog keys list [--active]
//   gatelog keys show ID
//   gatelog keys update ID [same flags as create, plus --no-expiry, --no-require-user]
//   gatelog keys revoke ID
//   gatelog keys rotate ID [--grace 24h]   (a new secret; the old one works for the grace period)
//   gatelog keys users ID [--limit N]   (top end users by spend this period)
// Common: --url (default http://127.0.0.1:4000), --json; the master key comes from
// GATELOG_MASTER_KEY and is sent only in the Authorization header.
import { parseArgs } from 'node:util';

export const KEYS_HELP = `Usage:
  gatelog keys create --name NAME [--team T] [--owner O] [--models a,b] [--budget USD]
                      [--period daily|weekly|monthly|none] [--rpm N] [--tpm N] [--parallel N]
                      [--expires 30d|2027-01-01T00:00:00Z] [--meta k=v ...]
                      [--user-rpm N] [--user-tpm N] [--user-budget USD]
                      [--user-period daily|weekly|monthly|none] [--require-user]
  gatelog keys list [--active]
  gatelog keys show ID
  gatelog keys update ID [the create flags] [--no-expiry] [--no-require-user]
  gatelog keys revoke ID
  gatelog keys rotate ID [--grace 24h]   a new secret for the key (same id, limits, budget);
                                         the old secret keeps working for --grace (default: stops now)
  gatelog keys users ID [--limit N]      top end users of the key by spend this period
Options: --url URL (default http://127.0.0.1:4000), --json
The --user-* limits apply to each end user of the key separately (the call's user);
--require-user refuses calls that name none. "none" clears a limit.
Environment: GATELOG_MASTER_KEY (the admin key of the running gatelog)
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  team: { type: 'string' },
  owner: { type: 'string' },
  models: { type: 'string' },
  budget: { type: 'string' },
  period: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  parallel: { type: 'string' },
  expires: { type: 'string' },
  'no-expiry': { type: 'boolean' },
  'user-rpm': { type: 'string' },
  'user-tpm': { type: 'string' },
  'user-budget': { type: 'string' },
  'user-period': { type: 'string' },
  'require-user': { type: 'boolean' },
  'no-require-user': { type: 'boolean' },
  meta: { type: 'string', multiple: true },
  active: { type: 'boolean' },
  limit: { type: 'string' },
  grace: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Flags → the admin API's JSON fields (validation happens server-side, with field names). */
function fieldsOf(v: Values): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (v.name !== undefined) f['name'] = v.name;
  if (v.team !== undefined) f['team'] = v.team;
  if (v.owner !== undefined) f['owner'] = v.owner;
  if (v.models !== undefined) f['models'] = v.models;
  if (v.budget !== undefined) f['budget_usd'] = v.budget === 'none' ? null : v.budget;
  if (v.period !== undefined) f['budget_period'] = v.period;
  if (v.rpm !== undefined) f['rpm'] = v.rpm === 'none' ? null : v.rpm;
  if (v.tpm !== undefined) f['tpm'] = v.tpm === 'none' ? null : v.tpm;
  if (v.parallel !== undefined) f['max_parallel'] = v.parallel === 'none' ? null : v.parallel;
  if (v.expires !== undefined) f['expires'] = v.expires;
  if (v['no-expiry']) f['expires'] = null;
  const orNull = (x: string): string | null => (x === 'none' ? null : x);
  if (v['user-rpm'] !== undefined) f['user_rpm'] = orNull(v['user-rpm']);
  if (v['user-tpm'] !== undefined) f['user_tpm'] = orNull(v['user-tpm']);
  if (v['user-budget'] !== undefined) f['user_budget_usd'] = orNull(v['user-budget']);
  if (v['user-period'] !== undefined) f['user_budget_period'] = v['user-period'];
  if (v['require-user'] && v['no-require-user']) throw new CliError('--require-user and --no-require-user contradict each other', 2);
  if (v['require-user']) f['require_user'] = true;
  if (v['no-require-user']) f['require_user'] = false;
  if (v.meta !== undefined) {
    const m: Record<string, string> = {};
    for (const kv of v.meta) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new CliError(`--meta: expected key=value, got "${kv}"`, 2);
      m[kv.slice(0, i)] = kv.slice(i + 1);
    }
    f['metadata'] = m;
  }
  return f;
}

export interface Io {
  out: (s: string) => void;
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
}

export async function call(io: Io, base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const master = io.env['GATELOG_MASTER_KEY'];
  if (master) headers['authorization'] = `Bearer ${master}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await io.fetch(new URL(path, base), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new CliError(`cannot reach gatelog at ${base}${typeof code === 'string' ? ` (${code})` : ''}; is it running? (--url)`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    throw new CliError(`unexpected response from ${base} (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const msg = (json as { error?: { message?: unknown } } | null)?.error?.message;
    const hint = res.status === 401 ? ' (set GATELOG_MASTER_KEY to the master key of the running gatelog)' : '';
    throw new CliError(`HTTP ${res.status}: ${typeof msg === 'string' ? msg : 'request failed'}${hint}`);
  }
  return json;
}

interface KeyView {
  id: string;
  key_prefix: string;
  name: string;
  team: string;
  models: string[];
  budget_usd: number | null;
  budget_period: string;
  rpm: number | null;
  tpm: number | null;
  max_parallel: number | null;
  /** Absent from a gatelog older than per-user limits. */
  user_rpm?: number | null;
  user_tpm?: number | null;
  user_budget_usd?: number | null;
  user_budget_period?: string;
  require_user?: boolean;
  expires_at: string | null;
  revoked: boolean;
}

function describe(k: KeyView): string {
  const limits = [
    k.budget_usd !== null ? `budget $${k.budget_usd}/${k.budget_period}` : '',
    k.rpm !== null ? `rpm ${k.rpm}` : '',
    k.tpm !== null ? `tpm ${k.tpm}` : '',
    k.max_parallel !== null ? `parallel ${k.max_parallel}` : '',
    k.user_budget_usd != null ? `user-budget $${k.user_budget_usd}/${k.user_budget_period ?? 'monthly'}` : '',
    k.user_rpm != null ? `user-rpm ${k.user_rpm}` : '',
    k.user_tpm != null ? `user-tpm ${k.user_tpm}` : '',
    k.require_user ? 'requires-user' : '',
    k.expires_at ? `expires ${k.expires_at}` : '',
  ].filter(Boolean);
  return [
    k.id,
    k.key_prefix,
    k.name,
    k.team ? `team=${k.team}` : '',
    k.models.length ? `models=${k.models.join(',')}` : 'models=*',
    limits.join(' '),
    k.revoked ? 'REVOKED' : '',
  ].filter(Boolean).join('  ');
}

/** Run `gatelog keys <argv>`; resolves with the exit code. */
export async function runKeysCli(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [sub, id, ...extra] = positionals;
  if (v.help || sub === undefined || sub === 'help') {
    io.out(KEYS_HELP);
    return sub === undefined && !v.help ? 2 : 0;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const base = v.url ?? 'http://127.0.0.1:4000';
  const needId = (): string => {
    if (!id) throw new CliError(`gatelog keys ${sub}: missing key id`, 2);
    return encodeURIComponent(id);
  };
  const print = (json: unknown, human: string): void => io.out(v.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);

  switch (sub) {
    case 'create': {
      if (id) throw new CliError(`unexpected argument "${id}"`, 2);
      const fields = fieldsOf(v);
      if (fields['name'] === undefined) throw new CliError('gatelog keys create: --name is required', 2);
      const r = (await call(io, base, 'POST', '/admin/keys', fields)) as { key: KeyView; secret: string };
      print(r, `${describe(r.key)}\n\nSecret (shown only now, store it safely):\n${r.secret}`);
      return 0;
    }
    case 'list': {
      const r = (await call(io, base, 'GET', `/admin/keys${v.active ? '?include_revoked=false' : ''}`)) as { data: KeyView[] };
      print(r, r.data.length ? r.data.map(describe).join('\n') : '(no keys)');
      return 0;
    }
    case 'show': {
      const r = (await call(io, base, 'GET', `/admin/keys/${needId()}`)) as { key: KeyView };
      print(r, describe(r.key));
      return 0;
    }
    case 'update': {
      const path = `/admin/keys/${needId()}`;
      const fields = fieldsOf(v);
      if (Object.keys(fields).length === 0) throw new CliError('gatelog keys update: nothing to change (give at least one flag)', 2);
      const r = (await call(io, base, 'PATCH', path, fields)) as { key: KeyView };
      print(r, describe(r.key));
      return 0;
    }
    case 'revoke': {
      const r = (await call(io, base, 'DELETE', `/admin/keys/${needId()}`)) as { key: KeyView };
      print(r, `revoked: ${describe(r.key)}`);
      return 0;
    }
    case 'rotate': {
      const r = (await call(io, base, 'POST', `/admin/keys/${needId()}/rotate`, v.grace !== undefined ? { grace: v.grace } : {})) as { key: KeyView & { previous_key_prefix: string; previous_valid_until: string | null }; secret: string };
      const old = r.key.previous_valid_until ? `The previous secret ${r.key.previous_key_prefix} keeps working until ${r.key.previous_valid_until}.` : 'The previous secret stopped working now.';
      print(r, `${describe(r.key)}\n${old}\n\nNew secret (shown only now, store it safely):\n${r.secret}`);
      return 0;
    }
    case 'users': {
      const r = (await call(io, base, 'GET', `/admin/keys/${needId()}/users${v.limit !== undefined ? `?limit=${encodeURIComponent(v.limit)}` : ''}`)) as {
        period: string;
        data: { user: string; spent_usd: number; calls: number; remaining_usd: number | null }[];
      };
      const rows = r.data.map((u) => `${u.user}  $${u.spent_usd.toFixed(6)}  ${u.calls} calls${u.remaining_usd === null ? '' : `  $${u.remaining_usd.toFixed(6)} left`}`);
      print(r, rows.length ? `period: ${r.period}\n${rows.join('\n')}` : '(no end users with spend this period)');
      return 0;
    }
    default:
      throw new CliError(`unknown keys command "${sub}"\n\n${KEYS_HELP}`, 2);
  }
}
