// `gatelog erase …` and `gatelog holds …`: erasure and legal holds (of calls, and of the audit
// trail) of a running gatelog, through its admin API (POST /admin/erase, /admin/holds), so the
// same audit trail records them.
import { parseArgs } from 'node:util';
import { CliError, call, type Io } from './keys-cli.ts';

export const ERASE_HELP = `Usage:
  gatelog erase --user U | --key K | --trace T | --before DATE [--rows]
      Remove the bodies (with --rows: the whole rows) of the matching calls from ClickHouse,
      the event log, the spool, the dead-letter file and the response cache. Calls under a legal
      hold are kept. With --key or --before, the batch files those calls came from are deleted
      at the provider too (--user and --trace cannot name files). The other proxies scrub their own spools and caches within their keys
      refresh, and calls still in Kafka are stored erased when they arrive. Several selectors
      narrow each other. Prints a receipt (rows, bytes, held, ms). With a team-scoped token,
      erasure and holds reach that token's teams only.
  gatelog holds list
  gatelog holds place --kind key|team|user|trace --value V --reason TEXT
      Keep the calls of a key, team, user or trace from retention and erasure.
  gatelog holds place --kind audit --value '*'|EMAIL --reason TEXT
      Keep the audit trail from retention.audit: all of it ('*'), or the rows a person did and
      the rows about them (by their email); a person so held cannot be deleted. Unscoped only.
  gatelog holds lift ID
Options: --url URL (default http://127.0.0.1:4000), --json
Environment: GATELOG_MASTER_KEY (the admin key of the running gatelog)
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  user: { type: 'string' },
  key: { type: 'string' },
  trace: { type: 'string' },
  before: { type: 'string' },
  rows: { type: 'boolean' },
  kind: { type: 'string' },
  value: { type: 'string' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Receipt {
  rows: number;
  bytes: number;
  held: number;
  /** Feedback rows on the erased calls removed (absent from a gatelog before feedback). */
  feedback?: number;
  mode: string;
  ms: number;
  files: { records: number; files: number };
  /** Scheduled export files rewritten (absent from a gatelog that predates it). */
  exports?: { files: number; rows: number; removed: number };
  /** Answers dropped from the serving proxy's response cache. */
  cache_entries?: number;
  /** Batch files deleted at the provider (absent from a gatelog before the upstream purge). */
  upstream_files?: { deleted: number; failed: number; held: number; waiting: number; skipped_reason?: string };
  /** The teams the erasure was limited to (a team-scoped caller's); null or absent = every team. */
  teams?: string[] | null;
}

/** The receipt's batch files at the provider, as a clause of the printed line. */
function upstreamText(u: Receipt['upstream_files']): string {
  if (!u) return '';
  if (u.skipped_reason) return `; no batch files deleted at the provider: ${u.skipped_reason}`;
  return `; ${u.deleted} batch files deleted at the provider (${u.failed} failed, retried by the sweep; ${u.held} held; ${u.waiting} waiting for their batch)`;
}

/** `cmd` is `erase` or `holds`; returns the exit code. */
export async function runEraseCli(cmd: 'erase' | 'holds', argv: string[], io: Io): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    if (v.help) {
      io.out(ERASE_HELP);
      return 0;
    }
    const base = v.url ?? 'http://127.0.0.1:4000';
    const print = (json: unknown, text: string): void => io.out(v.json ? `${JSON.stringify(json)}\n` : text);
    if (cmd === 'erase') {
      const body = { user: v.user, key: v.key, trace: v.trace, before: v.before, rows: v.rows ?? false };
      if (!v.user && !v.key && !v.trace && !v.before) throw new CliError(`name at least one of --user, --key, --trace, --before\n\n${ERASE_HELP}`, 2);
      const r = (await call(io, base, 'POST', '/admin/erase', body)) as Receipt;
      const scope = r.teams?.length ? ` (teams ${r.teams.join(', ')} only)` : '';
      print(r, `erased ${r.mode} of ${r.rows} calls${scope} (${r.bytes} body bytes) in ${r.ms} ms; ${r.files.records} copies scrubbed in ${r.files.files} files; ${r.exports ? `${r.exports.rows + r.exports.removed} export rows rewritten in ${r.exports.files} export files; ` : ''}${r.cache_entries ?? 0} cached answers dropped; ${r.feedback ?? 0} feedback rows removed; ${r.held} calls kept under legal hold${upstreamText(r.upstream_files)}\n`);
      return 0;
    }
    const [sub, id] = positionals;
    if (sub === 'list') {
      const r = (await call(io, base, 'GET', '/admin/holds')) as { data: { id: string; kind: string; value: string; active: boolean; reason: string; teams?: string[] }[] };
      const teams = (t: string[] | undefined): string => (t?.length ? ` (teams ${t.join(', ')})` : '');
      print(r, r.data.map((h) => `${h.id}  ${h.active ? 'active' : 'lifted'}  ${h.kind}=${h.value}${teams(h.teams)}  ${h.reason}\n`).join('') || 'no legal holds\n');
      return 0;
    }
    if (sub === 'place') {
      const r = (await call(io, base, 'POST', '/admin/holds', { kind: v.kind, value: v.value, reason: v.reason })) as { hold: { id: string } };
      print(r, `placed ${r.hold.id}\n`);
      return 0;
    }
    if (sub === 'lift' && id) {
      const r = (await call(io, base, 'DELETE', `/admin/holds/${encodeURIComponent(id)}`)) as { hold: { id: string } };
      print(r, `lifted ${r.hold.id}\n`);
      return 0;
    }
    throw new CliError(ERASE_HELP, 2);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`gatelog ${cmd}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof TypeError && 'code' in err) {
      process.stderr.write(`gatelog ${cmd}: ${err.message}\n\n${ERASE_HELP}`);
      return 2;
    }
    throw err;
  }
}
