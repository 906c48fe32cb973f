// Reading the audit trail: the Audit page and GET /admin/audit (newest first, filtered by
// person, action and time, keyset-paged), and the chain walk `gatelog audit verify` reads
// (oldest first per chain, every column). Every value is a bound parameter.
import { z } from 'zod';
import type { Store } from './client.ts';
import { chTime } from './call-filter.ts';
import { neutralizedSql } from './export-queries.ts';
import { AUDIT_COLUMNS, AuditRow } from './audit.ts';

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  /** UTC ISO bounds: from inclusive, to exclusive. */
  from?: string | undefined;
  to?: string | undefined;
  /** The `export_id` an export.run row carries (what `gatelog export verify --url` looks up). */
  exportId?: string | undefined;
}

function auditWhere(f: AuditFilter): { conds: string[]; params: Record<string, unknown> } {
  const conds: string[] = [];
  const params: Record<string, unknown> = {};
  if (f.actor) {
    conds.push('actor = {actor:String}');
    params['actor'] = f.actor;
  }
  if (f.action) {
    conds.push('action = {action:String}');
    params['action'] = f.action;
  }
  if (f.exportId) {
    conds.push(`JSONExtractString(details, 'export_id') = {export_id:String}`);
    params['export_id'] = f.exportId;
  }
  if (f.from) {
    conds.push(`at >= {from:DateTime64(3, 'UTC')}`);
    params['from'] = chTime(f.from);
  }
  if (f.to) {
    conds.push(`at < {to:DateTime64(3, 'UTC')}`);
    params['to'] = chTime(f.to);
  }
  return { conds, params };
}

/** Newest first; `before` is the last row of the previous page ({at, id}). */
export async function listAudit(
  store: Store,
  opts: AuditFilter & { limit?: number | undefined; before?: { at: string; id: string } | undefined } = {},
): Promise<AuditRow[]> {
  const { conds, params } = auditWhere(opts);
  params['limit'] = Math.min(Math.max(Math.trunc(opts.limit ?? 100) || 100, 1), 1000);
  if (opts.before) {
    conds.push(`(at, id) < ({b_at:DateTime64(3, 'UTC')}, {b_id:UUID})`);
    params['b_at'] = chTime(opts.before.at);
    params['b_id'] = opts.before.id;
  }
  const rs = await store.client.query({
    query: `SELECT ${AUDIT_COLUMNS} FROM ${store.database}.admin_audit
            ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
            ORDER BY at DESC, id DESC LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return z.array(AuditRow).parse(await rs.json());
}

/**
 * Every matching row, oldest first, as CSV (with a header line; ISO times; formula cells
 * neutralized) or JSON lines, written by ClickHouse (the Audit page's export).
 */
export async function* auditRowsBytes(store: Store, f: AuditFilter, format: 'csv' | 'jsonl', signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { conds, params } = auditWhere(f);
  const cols = Object.keys(AuditRow.shape);
  const select = cols.map((c) => {
    if (c === 'at') return `concat(replaceOne(toString(at, 'UTC'), ' ', 'T'), 'Z') AS at`;
    if (format === 'csv' && c !== 'seq' && c !== 'id') return `${neutralizedSql(c)} AS ${c}`;
    return c;
  });
  if (format === 'csv') yield new TextEncoder().encode(`${cols.join(',')}\r\n`);
  yield* store.streamQuery({
    query: `SELECT ${select.join(', ')} FROM ${store.database}.admin_audit ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY at, id`,
    params,
    format: format === 'csv' ? 'CSV' : 'JSONEachRow',
    settings: "prefer_column_name_to_alias = 1, output_format_json_quote_64bit_integers = 0, output_format_csv_crlf_end_of_line = 1",
    signal,
  });
}

/**
 * Every chained row (and, counted apart, the unchained ones written before chains existed),
 * in (chain_id, seq) order, in keyset pages. `from` narrows to rows at or after an instant.
 */
export async function* chainRows(store: Store, opts: { from?: string | undefined; pageRows?: number } = {}): AsyncGenerator<AuditRow[]> {
  let cursor: { c: string; s: number } | undefined;
  const pageRows = opts.pageRows ?? 10_000;
  for (;;) {
    const { conds, params } = auditWhere({ from: opts.from });
    conds.push(`chain_id != ''`);
    params['limit'] = pageRows;
    if (cursor) {
      conds.push('(chain_id, seq) > ({c_c:String}, {c_s:UInt64})');
      params['c_c'] = cursor.c;
      params['c_s'] = cursor.s;
    }
    const rs = await store.client.query({
      query: `SELECT ${AUDIT_COLUMNS} FROM ${store.database}.admin_audit WHERE ${conds.join(' AND ')}
              ORDER BY chain_id, seq, id LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = z.array(AuditRow).parse(await rs.json());
    if (rows.length) yield rows;
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageRows) return;
    cursor = { c: last.chain_id, s: last.seq };
  }
}

export async function unchainedCount(store: Store, from?: string): Promise<number> {
  const { conds, params } = auditWhere({ from });
  conds.push(`chain_id = ''`);
  const rs = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.admin_audit WHERE ${conds.join(' AND ')}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
}
