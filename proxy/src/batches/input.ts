// A batch input file (OpenAI's JSONL: one `{custom_id, method, url, body}` a line) read and
// rewritten for its upstream: each line's `body.model` is a gatelog alias, resolved (and checked
// against the key's allow-list) by `resolve`, then replaced by the deployment's upstream model.
// Every line must land on one provider, whose kind has a Batch API. What the rewrite changed is
// kept (LineModels) so the recorded calls show the alias the client wrote.
import { setImmediate as yieldNow } from 'node:timers/promises';
import { ProxyError, badRequest } from '../errors.ts';
import { blockedContent } from '../routes/content-block.ts';
import type { UpstreamApi } from '../providers/types.ts';
import type { Treatment } from '@gatelog/core';

/**
 * Limits of one upload. OpenAI takes 200 MB and 50,000 lines; gatelog reads and rewrites the
 * whole file in memory on the event loop, so it takes at most 50 MiB: a tenant's upload cannot
 * hold hundreds of megabytes of one process. Nor may it hold the event loop that every other
 * tenant's calls share: the work yields once YIELD_BYTES of lines (or YIELD_LINES lines) have
 * been read since the last yield, and a line may be no larger than a call's body may be
 * (`server.body_limit`), so the longest stretch is one line's work — what a live call of that
 * size costs anyway (measured: a file of 2,000 lines of 25 KB held the loop for ~1 s in one go).
 */
export const BATCH_FILE_MAX_BYTES = 50 * 1024 * 1024;
export const BATCH_FILE_MAX_LINES = 50_000;
const YIELD_LINES = 2000;
const YIELD_BYTES = 256 * 1024;
const MAX_CUSTOM_ID = 512;

/** The line URLs a batch may hold (OpenAI's Batch API endpoints) and the API each speaks. */
export const BATCH_LINE_APIS: Readonly<Record<string, UpstreamApi>> = {
  '/v1/chat/completions': 'openai.chat',
  '/v1/completions': 'openai.completions',
  '/v1/embeddings': 'openai.embeddings',
  '/v1/responses': 'openai.responses',
};

/**
 * Upstream model → the alias written for it, and the lines whose alias differs from that one;
 * with the treatment the upload's `x-gatelog-redact` asked for, which its lines' records get as
 * a call's does (absent: none asked).
 */
export interface LineModels {
  models: Record<string, string>;
  lines: Record<string, string>;
  requested?: Treatment | undefined;
}

/** The alias a line named, from its custom_id and the upstream model it was sent as. */
export function aliasOf(m: LineModels, customId: string, upstreamModel: string): string {
  return Object.hasOwn(m.lines, customId) ? m.lines[customId]! : Object.hasOwn(m.models, upstreamModel) ? m.models[upstreamModel]! : upstreamModel;
}

/** Where a line goes: the provider's name and whether its kind has a Batch API, and the upstream model. */
export interface LineTarget {
  provider: string;
  kind: string;
  batches: boolean;
  model: string;
  /**
   * The line's alias or key sends the provider redacted text (redaction mode `forward`): each
   * line's body is redacted by this (a fresh placeholder state a call) before it goes upstream.
   * Only string contents change, so the JSON stays valid.
   */
  redact?: ((text: string) => string) | undefined;
  /** The kinds of content `redaction.block` refuses for this alias and key that a line holds (none: empty). */
  blocked?: ((text: string) => string[]) | undefined;
}

/** Resolves a line's alias, or throws the refusal (not allowed to the key, unknown model). */
export type ResolveLine = (alias: string) => LineTarget;

export interface BatchInput {
  /** The file to upload upstream, in pieces (lines kept as they came are the upload's own bytes). */
  parts: Buffer[];
  provider: string;
  lineModels: LineModels;
  lines: number;
}

/** Names the line in a refusal met while reading it. */
function atLine(n: number, customId: string | undefined, e: ProxyError): ProxyError {
  const who = customId === undefined ? `Line ${n}` : `Line ${n} (custom_id ${JSON.stringify(customId.slice(0, 64))})`;
  return new ProxyError(e.status, e.code, `${who} of the batch file: ${e.message}`, e.type, 'file');
}

/** The custom_id of a line refused while it was read, to name it (the error path only). */
function customIdOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { custom_id?: unknown } | null)?.custom_id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

const lineError = (code: string, message: string): ProxyError => badRequest(code, message, 'file');

interface Line {
  custom_id: string;
  url: string;
  body: Record<string, unknown>;
  alias: string;
  /** The whole line as parsed. */
  object: Record<string, unknown>;
}

function readLine(text: string): Line {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw lineError('invalid_batch_line', 'not valid JSON.');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw lineError('invalid_batch_line', 'must be a JSON object {custom_id, method, url, body}.');
  const l = v as Record<string, unknown>;
  const id = l['custom_id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CUSTOM_ID) throw lineError('invalid_batch_line', `custom_id must be a string of 1 to ${MAX_CUSTOM_ID} characters.`);
  if (l['method'] !== 'POST') throw lineError('invalid_batch_line', 'method must be "POST".');
  const url = l['url'];
  if (typeof url !== 'string' || !Object.hasOwn(BATCH_LINE_APIS, url)) throw lineError('invalid_batch_line', `url must be one of ${Object.keys(BATCH_LINE_APIS).join(', ')}.`);
  const body = l['body'];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw lineError('invalid_batch_line', 'body must be a JSON object.');
  const alias = (body as Record<string, unknown>)['model'];
  if (typeof alias !== 'string' || alias.length === 0) throw lineError('missing_model', 'body.model must name a model.');
  return { custom_id: id, url, body: body as Record<string, unknown>, alias, object: l };
}

/**
 * The file's lines (a trailing CR cut) as byte ranges, found one at a time: neither the whole
 * file as one string nor an array of 50,000 strings is made up front (a 50 MiB decode or split
 * holds the event loop for a quarter of a second).
 */
function* linesOf(file: Buffer): Generator<Buffer> {
  let start = 0;
  while (start <= file.length) {
    let end = file.indexOf(0x0a, start);
    if (end < 0) end = file.length;
    yield file.subarray(start, end > start && file[end - 1] === 0x0d ? end - 1 : end);
    start = end + 1;
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * `pieces` as one Buffer, copied a stretch at a time with the loop's other work in between (one
 * 50 MiB Buffer.concat held the loop for ~0.1–0.2 s here). Every byte is written, so the
 * uninitialised allocation is never read.
 */
export async function joinYielding(pieces: readonly Buffer[]): Promise<Buffer> {
  let total = 0;
  for (const p of pieces) total += p.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let since = 0;
  for (const p of pieces) {
    p.copy(out, at);
    at += p.length;
    since += p.length;
    if (since >= 16 * YIELD_BYTES) {
      since = 0;
      await yieldNow();
    }
  }
  return out;
}

/**
 * The file's lines read, resolved and rewritten; throws the 400/403/404/413 to answer.
 * `maxLineBytes`: the largest line, as a call's body.
 */
export async function rewriteBatchInput(file: Buffer | string, resolve: ResolveLine, maxLineBytes = Infinity): Promise<BatchInput> {
  const parts: Buffer[] = [];
  let lines = 0;
  const seen = new Set<string>();
  const lineModels: LineModels = { models: {}, lines: {} };
  const targets = new Map<string, LineTarget>();
  let provider: LineTarget | undefined;
  let i = -1;
  let sinceYield = 0;
  for (const bytes of linesOf(typeof file === 'string' ? Buffer.from(file) : file)) {
    i++;
    if (bytes.length > maxLineBytes) throw new ProxyError(413, 'batch_line_too_large', `Line ${i + 1} of the batch file is over ${maxLineBytes} bytes, the most a request's body may be (server.body_limit).`, 'invalid_request_error', 'file');
    if (sinceYield >= YIELD_BYTES || (lines > 0 && lines % YIELD_LINES === 0 && sinceYield > 0)) {
      await yieldNow();
      sinceYield = 0;
    }
    sinceYield += bytes.length;
    const text = bytes.toString('utf8');
    if (text.trim() === '') continue;
    if (lines >= BATCH_FILE_MAX_LINES) throw new ProxyError(413, 'file_too_large', `A batch file may hold at most ${BATCH_FILE_MAX_LINES} requests.`, 'invalid_request_error', 'file');
    let line: Line | undefined;
    try {
      line = readLine(text);
      if (seen.has(line.custom_id)) throw lineError('duplicate_custom_id', 'custom_id is used by an earlier line; each must be unique.');
      seen.add(line.custom_id);
      let t = targets.get(line.alias);
      if (!t) {
        t = resolve(line.alias);
        targets.set(line.alias, t);
      }
      if (!t.batches) throw lineError('batches_unsupported', `model ${JSON.stringify(line.alias.slice(0, 128))} is served by provider "${t.provider}" of kind "${t.kind}", which has no Batch API (kinds with one: openai, azure, mock).`);
      if (provider && provider.provider !== t.provider) {
        throw lineError('mixed_providers', `model ${JSON.stringify(line.alias.slice(0, 128))} is served by provider "${t.provider}", earlier lines by "${provider.provider}": a batch goes to one upstream, so every line must resolve to the same provider.`);
      }
      provider ??= t;
      const found = t.blocked?.(text) ?? [];
      if (found.length > 0) throw lineError('content_blocked', `${blockedContent(found)}; nothing was sent upstream.`);
      const known = lineModels.models[t.model];
      if (known === undefined) lineModels.models[t.model] = line.alias;
      else if (known !== line.alias) lineModels.lines[line.custom_id] = line.alias;
      if (t.model === line.alias && !t.redact) parts.push(bytes, NEWLINE);
      else {
        // A long line's steps each take their own turn of the loop (a 20 MB line is ~0.5 s of work).
        if (bytes.length > YIELD_BYTES) await yieldNow();
        const body = t.redact ? (JSON.parse(t.redact(JSON.stringify(line.body))) as Record<string, unknown>) : line.body;
        const json = JSON.stringify({ ...line.object, body: { ...body, model: t.model } });
        if (bytes.length > YIELD_BYTES) await yieldNow();
        parts.push(Buffer.from(`${json}\n`));
      }
      lines++;
    } catch (err) {
      throw err instanceof ProxyError ? atLine(i + 1, line?.custom_id ?? customIdOf(text), err) : err;
    }
  }
  if (!provider) throw badRequest('empty_batch_file', 'The batch file holds no requests.', 'file');
  return { parts, provider: provider.provider, lineModels, lines };
}
