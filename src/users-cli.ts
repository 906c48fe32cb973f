// `gatelog users …` and `gatelog tokens …`: people and machine tokens of a running gatelog,
// through its admin API (the master key from GATELOG_MASTER_KEY, or an admin token).
//   gatelog users create --email E --role R [--team T …] [--name N]   prints a one-time sign-in link
//   gatelog users list
//   gatelog users update ID [--role R] [--team T …] [--name N] [--new-link] [--unbind-sso]
//   gatelog users disable ID | enable ID
//   gatelog users delete ID                                            their record gone, sessions ended
//   gatelog tokens create --name N --role R [--team T …] [--expires-days D]
//   gatelog tokens list
//   gatelog tokens revoke ID
import { parseArgs } from 'node:util';
import { CliError, call, type Io } from './keys-cli.ts';

export const USERS_HELP = `Usage:
  gatelog users create --email EMAIL --role owner|admin|analyst|auditor|viewer [--team T ...] [--name NAME]
  gatelog users list
  gatelog users update ID [--role R] [--team T ...] [--name NAME] [--new-link] [--unbind-sso]
  gatelog users disable ID
  gatelog users enable ID
  gatelog users delete ID        removes the person's record (email, name, password); the audit trail keeps their actions
  gatelog tokens create --name NAME --role R [--team T ...] [--expires-days D]
  gatelog tokens list
  gatelog tokens revoke ID
Options: --url URL (default http://127.0.0.1:4000), --json
Environment: GATELOG_MASTER_KEY (the admin key of the running gatelog)
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  email: { type: 'string' },
  role: { type: 'string' },
  team: { type: 'string', multiple: true },
  name: { type: 'string' },
  'new-link': { type: 'boolean' },
  'unbind-sso': { type: 'boolean' },
  'expires-days': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface UserView { id: string; email: string; role: string; teams: string[]; disabled: boolean; link_pending: boolean; has_password: boolean }
interface TokenView { id: string; name: string; token_prefix: string; role: string; teams: string[]; revoked: boolean; expires_at: string | null }

const scope = (teams: string[]): string => (teams.length ? `teams=${teams.join(',')}` : 'all teams');
const describeUser = (u: UserView): string =>
  [u.id, u.email, u.role, scope(u.teams), u.disabled ? 'DISABLED' : u.has_password ? 'active' : 'sign-in link pending'].join('  ');
const describeToken = (t: TokenView): string =>
  [t.id, `${t.token_prefix}…`, t.name, t.role, scope(t.teams), t.expires_at ? `expires ${t.expires_at}` : '', t.revoked ? 'REVOKED' : ''].filter(Boolean).join('  ');

/** Run `gatelog users|tokens <argv>`; resolves with the exit code. */
export async function runPeopleCli(kind: 'users' | 'tokens', argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [sub, id, ...extra] = positionals;
  if (v.help || sub === undefined || sub === 'help') {
    io.out(USERS_HELP);
    return sub === undefined && !v.help ? 2 : 0;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const base = (v.url ?? 'http://127.0.0.1:4000').replace(/\/+$/, '');
  const needId = (): string => {
    if (!id) throw new CliError(`gatelog ${kind} ${sub}: missing id`, 2);
    return encodeURIComponent(id);
  };
  const print = (json: unknown, human: string): void => io.out(v.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);
  const linkText = (r: { sign_in_path?: string; link_expires_at?: string }): string =>
    r.sign_in_path ? `\n\nOne-time sign-in link (valid until ${r.link_expires_at}; give it to this person only):\n${base}${r.sign_in_path}` : '';

  if (kind === 'users') {
    switch (sub) {
      case 'create': {
        if (!v.email || !v.role) throw new CliError('gatelog users create: --email and --role are required', 2);
        const r = (await call(io, base, 'POST', '/admin/users', { email: v.email, role: v.role, teams: v.team ?? [], ...(v.name ? { name: v.name } : {}) })) as { user: UserView; sign_in_path: string; link_expires_at: string };
        print(r, `${describeUser(r.user)}${linkText(r)}`);
        return 0;
      }
      case 'list': {
        const r = (await call(io, base, 'GET', '/admin/users')) as { data: UserView[] };
        print(r, r.data.length ? r.data.map(describeUser).join('\n') : '(no people)');
        return 0;
      }
      case 'update':
      case 'disable':
      case 'enable': {
        const patch: Record<string, unknown> = sub === 'update' ? {} : { disabled: sub === 'disable' };
        if (v.role !== undefined) patch['role'] = v.role;
        if (v.team !== undefined) patch['teams'] = v.team;
        if (v.name !== undefined) patch['name'] = v.name;
        if (v['new-link']) patch['new_link'] = true;
        if (v['unbind-sso']) patch['unbind_sso'] = true;
        if (Object.keys(patch).length === 0) throw new CliError('gatelog users update: nothing to change', 2);
        const r = (await call(io, base, 'PATCH', `/admin/users/${needId()}`, patch)) as { user: UserView; sign_in_path?: string; link_expires_at?: string };
        print(r, `${describeUser(r.user)}${linkText(r)}`);
        return 0;
      }
      case 'delete': {
        const r = (await call(io, base, 'DELETE', `/admin/users/${needId()}`)) as { id: string; sessions_ended: number };
        print(r, `deleted: ${r.id} (${r.sessions_ended} session${r.sessions_ended === 1 ? '' : 's'} ended)`);
        return 0;
      }
      default:
        throw new CliError(`unknown users command "${sub}"\n\n${USERS_HELP}`, 2);
    }
  }
  switch (sub) {
    case 'create': {
      if (!v.name || !v.role) throw new CliError('gatelog tokens create: --name and --role are required', 2);
      const days = v['expires-days'] === undefined ? null : Number(v['expires-days']);
      const r = (await call(io, base, 'POST', '/admin/tokens', { name: v.name, role: v.role, teams: v.team ?? [], expires_days: days })) as { token: TokenView; secret: string };
      print(r, `${describeToken(r.token)}\n\nToken (shown only now; send it as "Authorization: Bearer <token>"):\n${r.secret}`);
      return 0;
    }
    case 'list': {
      const r = (await call(io, base, 'GET', '/admin/tokens')) as { data: TokenView[] };
      print(r, r.data.length ? r.data.map(describeToken).join('\n') : '(no tokens)');
      return 0;
    }
    case 'revoke': {
      const r = (await call(io, base, 'DELETE', `/admin/tokens/${needId()}`)) as { token: TokenView };
      print(r, `revoked: ${describeToken(r.token)}`);
      return 0;
    }
    default:
      throw new CliError(`unknown tokens command "${sub}"\n\n${USERS_HELP}`, 2);
  }
}
