// A batch's results recorded as calls (completed, or what a cancelled or expired one finished), through the same event path as live calls
// (env.publish → event log or Kafka → ingest → llm_calls): one call per line of its output and
// error files, request = the input line's body with the alias the client wrote, response = the
// output line's body, the batch creator's key and team, tagged `gatelog.batch=<batch id>` and
// `gatelog.custom_id`, upstream_api `openai.batch`, priced at the Batch API's price.
//
// Once: a batch is recorded by one process (a job lease per batch, job-lease.ts), its lines' ids
// derive from batch id + custom_id (core ids.ts), lines the store already holds are not sent
// again (a process that stopped half-way), and a `batch_recorded` marker ends it for good.
import { createInterface } from 'node:readline';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { batchLineRequestId, type LlmCallEvent, type Logger, type Store } from '@gatelog/core';
import { claimJob, holdJob } from '@gatelog/core/store/job-lease';
import { batchRecorded, markBatchRecorded, type BatchObjectRow } from '@gatelog/core/store/batch-objects';
import { storedRequestIds } from '@gatelog/core/store/spend-coverage';
import { toEvent, type CallRecord, type EventEnv } from '../capture/call-record.ts';
import { NO_TOKENS, tokensFromUsage } from '../capture/usage.ts';
import type { CostFn } from '../capture/cost.ts';
import type { FilesApi, Provider } from '../providers/types.ts';
import { aliasOf, BATCH_LINE_APIS, type LineModels } from './input.ts';

/**
 * What a line costs against the same call made live. genai-prices (0.1.8) has no batch prices;
 * OpenAI's Batch API and Azure OpenAI's global batch both bill 50% of the model's price
 * (https://platform.openai.com/docs/guides/batch, "50% cost discount").
 */
export const BATCH_PRICE_FACTOR = 0.5;
/** What a recorded batch line's `upstream_api` says (repricing keeps it at the batch price). */
export const BATCH_UPSTREAM_API = 'openai.batch';
const YIELD_LINES = 500;
/** Lines turned into events, checked against the store and published at a time. */
const RECORD_CHUNK = 1000;

/** The batch's own cost function: the pricer's price, times BATCH_PRICE_FACTOR. */
export function batchCost(cost: CostFn): CostFn {
  const half = (...a: Parameters<CostFn>): number | null => {
    const c = cost(...a);
    return c === null ? null : c * BATCH_PRICE_FACTOR;
  };
  return cost.version === undefined ? half : Object.assign(half, { version: cost.version });
}

export interface BatchRecorderDeps {
  store: Store;
  providers: ReadonlyMap<string, Provider>;
  env: EventEnv & { publish: (e: LlmCallEvent) => void };
  logger: Logger;
  /** This process, as a lease holder. */
  holder: string;
}

interface OutputLine {
  custom_id?: unknown;
  response?: { status_code?: unknown; body?: unknown } | null;
  error?: { code?: unknown; message?: unknown } | null;
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * A file's JSONL lines parsed, read as the content streams in (a file of any size holds one
 * line at a time); unparseable lines are skipped: nothing can be recorded of them.
 */
async function* jsonLines(files: FilesApi, fileId: string): AsyncGenerator<Record<string, unknown>> {
  const res = await files.stream({ method: 'GET', path: `/files/${encodeURIComponent(fileId)}/content` });
  if (res.status !== 200) {
    res.body.destroy();
    throw new Error(`the upstream answered ${res.status} for the content of file ${fileId}`);
  }
  let n = 0;
  for await (const text of createInterface({ input: res.body, crlfDelay: Infinity })) {
    if (++n % YIELD_LINES === 0) await yieldNow();
    const l = text.trim();
    if (l === '') continue;
    try {
      yield obj(JSON.parse(l));
    } catch {
      // Not a line gatelog can record.
    }
  }
}

/** The client's requests by custom_id: the input file's bodies with the alias put back. */
interface ClientRequest {
  url: string;
  body: string;
  alias: string;
  /** The deployment's model the line was sent upstream as. */
  sentModel: string;
  /** The body's `user` (the end user), as a live call reads it. */
  user: string;
}

async function requestsOf(files: FilesApi, inputFileId: string, lineModels: LineModels): Promise<Map<string, ClientRequest>> {
  const byId = new Map<string, ClientRequest>();
  for await (const l of jsonLines(files, inputFileId)) {
    const body = obj(l['body']);
    const id = str(l['custom_id']);
    const alias = aliasOf(lineModels, id, str(body['model']));
    byId.set(id, { url: str(l['url']), body: JSON.stringify({ ...body, model: alias }), alias, sentModel: str(body['model']), user: str(body['user']).slice(0, 256) });
  }
  return byId;
}

interface LineCall {
  batch: BatchObjectRow;
  /** What the upload's x-gatelog-redact asked for. */
  requested: LineModels['requested'];
  provider: Provider;
  startedMs: number;
  line: OutputLine;
  request: ClientRequest | undefined;
  endpoint: string;
}

/** One output or error line as the call record toEvent turns into the event. */
function lineRecord(c: LineCall, customId: string): CallRecord {
  const res = obj(c.line.response);
  const body = obj(res['body']);
  const status = typeof res['status_code'] === 'number' ? res['status_code'] : 0;
  const err = obj(body['error']);
  const lineErr = obj(c.line.error);
  const ok = status >= 200 && status < 300 && c.line.error == null;
  const model = str(body['model']);
  const choice = obj(Array.isArray(body['choices']) ? body['choices'][0] : undefined);
  const api = BATCH_LINE_APIS[c.endpoint] ?? 'openai.chat';
  return {
    requestId: batchLineRequestId(c.batch.id, customId),
    wallStart: c.startedMs,
    t0: 0, tDispatch: 0, tFirstByte: 0, tUpstreamEnd: 0,
    meta: { trace_id: '', session_id: '', user: c.request?.user ?? '', tags: { 'gatelog.batch': c.batch.id, 'gatelog.custom_id': customId.slice(0, 256) } },
    endpoint: c.endpoint,
    api,
    upstreamApi: BATCH_UPSTREAM_API,
    requestedModel: c.request?.alias ?? model,
    provider: c.provider.name,
    priceProviderId: c.provider.priceProviderId,
    deploymentModel: c.request?.sentModel || model,
    upstreamModel: model,
    stream: false,
    status,
    outcome: ok ? 'success' : 'error',
    errorType: ok ? '' : str(err['code']) || str(err['type']) || str(lineErr['code']) || 'batch_line_failed',
    errorMessage: ok ? '' : str(err['message']) || str(lineErr['message']),
    errorClass: ok ? '' : `http_${status}`,
    finishReason: str(choice['finish_reason']),
    tokens: body['usage'] !== undefined ? tokensFromUsage(body['usage']) : NO_TOKENS,
    requestBody: c.request?.body ?? '',
    responseBody: c.line.response ? JSON.stringify(res['body'] ?? null) : JSON.stringify(c.line.error ?? null),
    caller: { keyId: c.batch.key_id, keyName: c.batch.key_name, team: c.batch.team },
    redactRequested: c.requested ?? null,
  };
}

export interface BatchRecorder {
  /** Records `batch` (ended with results) unless it was already, or another process does. */
  record(batch: BatchObjectRow, inputFile: BatchObjectRow | undefined): Promise<void>;
}

export function createBatchRecorder(d: BatchRecorderDeps): BatchRecorder {
  const running = new Set<string>();
  const env: EventEnv = { ...d.env, cost: batchCost(d.env.cost) };

  const run = async (batch: BatchObjectRow, inputFile: BatchObjectRow | undefined): Promise<void> => {
    if (await batchRecorded(d.store, batch.id)) return;
    const job = `batch-record:${batch.id}`;
    if (!(await claimJob(d.store, job, d.holder))) return;
    // Kept claimed while it works, so a long batch is never taken over by another process mid-way.
    const release = holdJob(d.store, job, d.holder, (err) => d.logger.warn({ err, batch_id: batch.id, code: 'GATELOG_ERR_BATCH_LEASE' }, 'could not renew a batch recording claim'));
    try {
      await recordClaimed(batch, inputFile);
    } finally {
      release();
    }
  };

  const recordClaimed = async (batch: BatchObjectRow, inputFile: BatchObjectRow | undefined): Promise<void> => {
    const provider = d.providers.get(batch.provider);
    if (!provider?.files) return;
    const o = obj(JSON.parse(batch.object));
    const lineModels: LineModels = inputFile?.line_models ? (JSON.parse(inputFile.line_models) as LineModels) : { models: {}, lines: {} };
    const requests = await requestsOf(provider.files, batch.input_file_id, lineModels).catch(() => new Map<string, ClientRequest>());
    const startedMs = typeof o['created_at'] === 'number' ? o['created_at'] * 1000 : Date.parse(batch.created_at);
    // In chunks: a chunk's events are built, the store asked which of them it holds already (a
    // process that stopped half-way sent them), and the others published, before the next.
    let recorded = 0;
    let sent = 0;
    const chunk: OutputLine[] = [];
    const flush = async (): Promise<void> => {
      const events: LlmCallEvent[] = [];
      for (const line of chunk.splice(0)) {
        const customId = str(line.custom_id);
        if (customId === '') continue;
        const request = requests.get(customId);
        events.push(toEvent(lineRecord({ batch, requested: lineModels.requested, provider, startedMs, line, request, endpoint: request?.url || str(o['endpoint']) }, customId), env, 0));
      }
      const stored = await storedRequestIds(d.store, events.map((e) => ({ requestId: e.request_id, startedAt: startedMs })));
      for (const e of events) {
        if (stored.has(e.request_id)) continue;
        d.env.publish(e);
        sent++;
      }
      recorded += events.length;
    };
    for (const f of [o['output_file_id'], o['error_file_id']]) {
      if (typeof f !== 'string' || f === '') continue;
      for await (const line of jsonLines(provider.files, f)) {
        chunk.push(line);
        if (chunk.length >= RECORD_CHUNK) await flush();
      }
    }
    await flush();
    await markBatchRecorded(d.store, batch.id, recorded);
    d.logger.info({ batch_id: batch.id, lines: recorded, sent, team: batch.team }, 'batch results recorded');
  };

  return {
    async record(batch, inputFile) {
      if (running.has(batch.id)) return;
      running.add(batch.id);
      try {
        await run(batch, inputFile);
      } finally {
        running.delete(batch.id);
      }
    },
  };
}
