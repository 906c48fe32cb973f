// `gatelog audit verify [--from DATE] [--log FILE …] [--url URL | --config PATH --data-dir DIR] [--json]`
// Walks every chain of the audit trail and names the first row that was changed, removed,
// reordered or copied (exit 1), or says how much it checked (exit 0). The hashes are checked
// here, in this process: with --url the running gatelog only hands over the stored rows
// (GET /admin/audit/chain), so a tampered store cannot vouch for itself; without --url the
// store is read directly (ClickHouse server, or an embedded data dir no gatelog has open).
// --log FILE: the service log(s) whose "audit chain head" lines show a cut tail.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { AuditRow, AuditVerifier, headsFromLog, loadConfig, openStore, verifyAudit, type AuditVerifyResult, type ChainHead } from '@gatelog/core';
import { CliError } from './keys-cli.ts';
import { adminFetch, isoDate } from './admin-http.ts';
import type { RawEnv } from '@gatelog/core/env';

export const AUDIT_HELP = `Usage:
  gatelog audit verify [--from DATE] [--log FILE ...] [--url URL | --config PATH --data-dir DIR] [--json]
    --from DATE   check rows at or after DATE (ISO date or date-time, UTC); the first row in range is trusted as the anchor
    --log FILE    a gatelog service log: its "audit chain head" lines must still be in the store (a cut tail shows)
    --url URL     read the rows from a running gatelog's admin API (GATELOG_MASTER_KEY); default: read the store directly
Exit status: 0 the trail verifies, 1 it was altered (the first altered row is named), 2 usage error.
`;

const OPTIONS = {
  from: { type: 'string' },
  log: { type: 'string', multiple: true },
  url: { type: 'string' },
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function verifyOverApi(url: string, masterKey: string | undefined, from: string | undefined, heads: ChainHead[]): Promise<AuditVerifyResult> {
  const res = await adminFetch(url, `/admin/audit/chain${from ? `?from=${encodeURIComponent(from)}` : ''}`, masterKey);
  if (!res.body) throw new CliError('the admin API sent no rows');
  const v = new AuditVerifier({ full: !from });
  const lines = createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), crlfDelay: Infinity });
  for await (const line of lines) if (line) v.feed([AuditRow.parse(JSON.parse(line))]);
  v.checkHeads(heads);
  return v.result();
}

async function verifyStore(env: RawEnv, configPath: string | undefined, dataDir: string | undefined, from: string | undefined, heads: ChainHead[]): Promise<AuditVerifyResult> {
  const { config } = loadConfig({ path: configPath ?? env['GATELOG_CONFIG'], env });
  const store = await openStore(config.storage, dataDir ?? env['GATELOG_DATA_DIR'] ?? './data');
  try {
    return await verifyAudit(store, { from, heads });
  } finally {
    await store.close();
  }
}

function report(r: AuditVerifyResult): string {
  const chains = r.chains.filter((c) => c.rows > 0).length;
  const unchained = r.unchained ? ` (${r.unchained} older rows predate the hash chain and are not covered)` : '';
  const expired = r.expired_before ? `; rows before ${r.expired_before} were expired by retention.audit, as the trail records` : '';
  if (r.ok) return `audit trail verified: ${r.rows} rows in ${chains} chain${chains === 1 ? '' : 's'}, no row changed, removed or reordered${unchained}${expired}\n`;
  const others = r.chains.filter((c) => c.problem && c.problem !== r.problem).map((c) => `  also: ${c.problem!.message}\n`);
  const p = r.problem!;
  return `audit trail ALTERED: ${p.message}\n  first altered row: ${p.id ?? '(removed)'} (chain ${p.chain_id}, seq ${p.seq}${p.at ? `, ${p.at}` : ''}, ${p.kind})\n${others.join('')}`;
}

export async function runAuditCli(argv: string[], env: RawEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  const [cmd] = positionals;
  if (values.help || cmd === undefined) {
    process.stdout.write(AUDIT_HELP);
    return cmd === undefined && !values.help ? 2 : 0;
  }
  if (cmd !== 'verify') throw new CliError(`unknown audit command "${cmd}"\n\n${AUDIT_HELP}`, 2);
  const from = values.from === undefined ? undefined : isoDate(values.from, '--from');
  const heads = (values.log ?? []).flatMap((f) => headsFromLog(readFileSync(f, 'utf8')));
  const r = values.url !== undefined
    ? await verifyOverApi(values.url, env['GATELOG_MASTER_KEY'], from, heads)
    : await verifyStore(env, values.config, values['data-dir'], from, heads);
  process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : report(r));
  return r.ok ? 0 : 1;
}
