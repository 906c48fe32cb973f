// `gatelog export --from DATE --to DATE --format csv|jsonl [filters] -o FILE [--url URL]`
//   Streams GET /admin/export into FILE (through FILE.partial, renamed when complete), counting
//   rows and bytes and hashing as it goes (a progress line on stderr when it is a terminal),
//   then checks its own count and SHA-256 against the export's audit row and writes
//   FILE.manifest.json (filter, rows, bytes, sha256, when, by whom, audit row id).
// `gatelog export verify FILE [--url URL]`
//   Checks FILE against its manifest; with --url, also the manifest against the audit row
//   (and that row's own hash).
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { AuditRow, EXPORT_ACTION, ExportDigester, ExportManifest, auditHash, type ExportDigest } from '@gatelog/core';
import { EXPORT_ERASE_ACTION } from '@gatelog/core/store/export-erasure';
import type { ExportFormat } from '@gatelog/core/store/export-queries';
import { CliError } from './keys-cli.ts';
import { adminFetch, DEFAULT_URL, isoDate } from './admin-http.ts';
import { progressLine } from './progress.ts';
import type { RawEnv } from '@gatelog/core/env';

export const EXPORT_HELP = `Usage:
  gatelog export --from DATE --to DATE --format csv|jsonl -o FILE [filters] [--url URL]
    filters: --model M --provider P --key ID|NAME --team T --user U --status ok|error --error TYPE
             --tag k=v (repeatable) --trace ID --session ID --q TEXT [--part]
  gatelog export verify FILE [--url URL]
Writes FILE and FILE.manifest.json (rows, bytes, sha256, filter, when, by whom); every export is in
the audit trail. Options: --url URL (default ${DEFAULT_URL}); GATELOG_MASTER_KEY is the admin key.
Exit status: 0 ok, 1 failed or does not verify, 2 usage error.
`;

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  url: { type: 'string' },
  model: { type: 'string' },
  provider: { type: 'string' },
  key: { type: 'string' },
  team: { type: 'string' },
  user: { type: 'string' },
  status: { type: 'string' },
  error: { type: 'string' },
  tag: { type: 'string', multiple: true },
  trace: { type: 'string' },
  session: { type: 'string' },
  q: { type: 'string' },
  part: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Flags → the explorer's URL parameters (the server validates them again). */
function exportParams(v: Values, format: ExportFormat): URLSearchParams {
  const p = new URLSearchParams({ format });
  if (v.from !== undefined) p.set('from', isoDate(v.from, '--from'));
  if (v.to !== undefined) p.set('to', isoDate(v.to, '--to'));
  for (const f of ['model', 'provider', 'key', 'team', 'user', 'status', 'error', 'trace', 'session', 'q'] as const) {
    const val = v[f];
    if (val !== undefined) p.set(f, val);
  }
  if (v.tag?.length) p.set('tags', v.tag.join(','));
  if (v.part) p.set('match', 'part');
  return p;
}

/** The export's audit row: written as the stream ends, so it may land a moment after the last byte. */
/** The newest audit row of `action` (the export's own, or an erasure's rewrite of it) for this export. */
async function auditRowOf(url: string, masterKey: string | undefined, exportId: string, action = EXPORT_ACTION): Promise<AuditRow> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await adminFetch(url, `/admin/audit?action=${action}&export_id=${encodeURIComponent(exportId)}&limit=1`, masterKey);
    const row = ((await res.json()) as { data: unknown[] }).data[0];
    if (row) return AuditRow.parse(row);
    if (Date.now() > deadline) throw new CliError(`the audit trail has no row for export ${exportId}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function exportTotal(url: string, masterKey: string | undefined, params: URLSearchParams): Promise<number | undefined> {
  const q = new URLSearchParams(params);
  q.delete('format');
  const res = await adminFetch(url, `/admin/export/count?${q}`, masterKey).catch(() => undefined);
  const rows = res ? ((await res.json()) as { rows?: unknown }).rows : undefined;
  return typeof rows === 'number' ? rows : undefined;
}

function compare(what: string, mine: ExportDigest, theirs: Partial<ExportDigest>): string[] {
  return (['rows', 'bytes', 'sha256'] as const)
    .filter((k) => theirs[k] !== mine[k])
    .map((k) => `${k}: the file has ${String(mine[k])}, ${what} says ${String(theirs[k])}`);
}

async function runExport(v: Values, env: RawEnv): Promise<number> {
  if (v.format !== 'csv' && v.format !== 'jsonl') throw new CliError('--format: expected csv or jsonl', 2);
  if (!v.output) throw new CliError('-o FILE is required', 2);
  if (v.from === undefined || v.to === undefined) throw new CliError('--from and --to are required (an export for compliance names its period)', 2);
  const format = v.format;
  const url = v.url ?? DEFAULT_URL;
  const params = exportParams(v, format);
  const startedAt = new Date().toISOString();
  const res = await adminFetch(url, `/admin/export?${params}`, env['GATELOG_MASTER_KEY']);
  const exportId = res.headers.get('x-gatelog-export-id') ?? '';
  if (!res.body || !exportId) throw new CliError('the server did not answer with an export (is it a gatelog with this feature?)');
  const digester = new ExportDigester(format);
  const partial = `${v.output}.partial`;
  const out = createWriteStream(partial);
  // Only a terminal shows progress, so only a terminal pays for counting first.
  const total = process.stderr.isTTY ? await exportTotal(url, env['GATELOG_MASTER_KEY'], params) : undefined;
  const progress = progressLine(process.stderr, total);
  try {
    for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)) {
      const c = chunk as Uint8Array;
      digester.feed(c);
      if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
      progress.update(digester.digest());
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    rmSync(partial, { force: true });
    throw new CliError(`the export was cut off: ${(err as Error).message}`);
  } finally {
    progress.done();
  }
  const mine = digester.digest();
  const row = await auditRowOf(url, env['GATELOG_MASTER_KEY'], exportId);
  const d = JSON.parse(row.details) as Partial<ExportDigest> & { completed?: boolean };
  const diff = compare('the audit trail', mine, d);
  if (diff.length || !d.completed) {
    rmSync(partial, { force: true });
    throw new CliError(`the downloaded file does not match the export gatelog recorded (${diff.join('; ') || 'not completed'})`);
  }
  renameSync(partial, v.output);
  const manifest: ExportManifest = {
    gatelog_export: 1, export_id: exportId, file: basename(v.output), format,
    filter: { query: `?${params}`, resolved: JSON.parse(row.details).resolved as Record<string, unknown> },
    ...mine, started_at: startedAt, finished_at: new Date().toISOString(),
    by: { actor: row.actor, role: row.role }, source: url, audit_id: row.id,
  };
  writeFileSync(`${v.output}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`exported ${mine.rows} rows (${mine.bytes} bytes) to ${v.output}\nsha256 ${mine.sha256}\nmanifest ${v.output}.manifest.json (audit row ${row.id})\n`);
  return 0;
}

async function digestFile(file: string, format: ExportFormat): Promise<ExportDigest> {
  const d = new ExportDigester(format);
  for await (const chunk of createReadStream(file)) d.feed(chunk as Buffer);
  return d.digest();
}

async function runVerify(file: string | undefined, v: Values, env: RawEnv): Promise<number> {
  if (!file) throw new CliError('export verify FILE: name the exported file', 2);
  let manifest: ExportManifest;
  try {
    manifest = ExportManifest.parse(JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')));
  } catch (err) {
    throw new CliError(`${file}.manifest.json: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'not a gatelog export manifest'}`);
  }
  const mine = await digestFile(file, manifest.format);
  const problems = compare('its manifest', mine, manifest);
  if (v.url !== undefined) {
    // A file an erasure rewrote is checked against the newest rewrite's record (it names the digest before it too).
    const erased = (manifest.erasures?.length ?? 0) > 0;
    const row = await auditRowOf(v.url, env['GATELOG_MASTER_KEY'], manifest.export_id, erased ? EXPORT_ERASE_ACTION : EXPORT_ACTION).catch((err: unknown) => {
      problems.push((err as Error).message);
      return undefined;
    });
    if (row) {
      if (auditHash(row) !== row.row_hash) problems.push(`audit row ${row.id} no longer matches its own hash (run gatelog audit verify)`);
      if (manifest.audit_id && manifest.audit_id !== row.id) problems.push(`the manifest names audit row ${manifest.audit_id}, the trail has ${row.id}`);
      problems.push(...compare(`audit row ${row.id}`, mine, JSON.parse(row.details) as Partial<ExportDigest>));
    }
  }
  if (problems.length) {
    process.stdout.write(`${file}: DOES NOT VERIFY\n${problems.map((p) => `  ${p}\n`).join('')}`);
    return 1;
  }
  const rewritten = manifest.erasures?.length ? `; rewritten by ${manifest.erasures.length} erasure${manifest.erasures.length === 1 ? '' : 's'} since it was exported` : '';
  process.stdout.write(`${file}: verified (${mine.rows} rows, ${mine.bytes} bytes, sha256 ${mine.sha256}${v.url !== undefined ? ', matches the audit trail' : ''}${rewritten})\n`);
  return 0;
}

export async function runExportCli(argv: string[], env: RawEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) {
    process.stdout.write(EXPORT_HELP);
    return 0;
  }
  if (positionals[0] === 'verify') return runVerify(positionals[1], values, env);
  if (positionals.length) throw new CliError(`unexpected "${positionals[0]}"\n\n${EXPORT_HELP}`, 2);
  return runExport(values, env);
}
