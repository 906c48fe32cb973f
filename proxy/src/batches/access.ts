// Who may see and touch a file or batch gatelog handed out, for the Files and Batches routes:
// the caller (a virtual key, the master key, or anyone on an open gatelog), the objects it owns
// (its team's; a key without a team: its own), and the one answer for anything else — OpenAI's
// 404, the same for an id of another tenant as for an id that does not exist. Each request
// counts against the key's and team's rpm and holds a max_parallel slot while it runs.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, type Privacy, type Store } from '@gatelog/core';
import type { BatchListQuery, BatchObjectKind, BatchObjectRow } from '@gatelog/core/store/batch-objects';
import { batchObject } from '@gatelog/core/store/batch-objects';
import { ProxyError } from '../errors.ts';
import type { Caller } from '../auth.ts';
import { requestSlots, type RequestSlots } from './request-slot.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { FilesApi, FilesResponse, Provider } from '../providers/types.ts';
import type { ModelTable } from '../routing/resolve.ts';
import { checkRedactHeader, installSurface } from '../routes/surface.ts';
import type { BatchRecorder } from './record.ts';

export interface BatchRouteDeps {
  store: Store;
  table: ModelTable;
  providers: ReadonlyMap<string, Provider>;
  gov: Governance;
  metrics: ProxyMetrics;
  recorder: BatchRecorder;
  /** Redaction (`forward` aliases and keys get redacted lines upstream); absent: none. */
  privacy?: Privacy | undefined;
  /** The largest line of an uploaded batch file: `server.body_limit`, as a call's body (absent: no limit of its own). */
  lineMaxBytes?: number | undefined;
}

/** The callers of one plugin's requests, as its auth hook identified them. */
export type Callers = WeakMap<FastifyRequest, Caller>;

/** The key that called, if a virtual key did. */
export const keyOf = (c: Caller): Extract<Caller, { kind: 'key' }>['key'] | undefined => (c.kind === 'key' ? c.key : undefined);

/** Whose objects a caller sees in a list: null = every tenant's (the master key, an open gatelog). */
export function ownerScope(c: Caller): BatchListQuery['owner'] {
  const key = keyOf(c);
  if (!key) return null;
  return key.team !== '' ? { team: key.team } : { keyId: key.id };
}

export function owns(c: Caller, row: Pick<BatchObjectRow, 'team' | 'key_id'>): boolean {
  const scope = ownerScope(c);
  if (scope === null) return true;
  return 'team' in scope ? row.team === scope.team : row.team === '' && row.key_id === scope.keyId;
}

const LABEL: Readonly<Record<BatchObjectKind, string>> = { file: 'File', batch: 'Batch' };

/** OpenAI's answer for an id it does not know; also what another tenant's id gets. */
export const noSuch = (kind: BatchObjectKind, id: string, param = 'id'): ProxyError =>
  new ProxyError(404, `${kind}_not_found`, `No such ${LABEL[kind]} object: ${id.slice(0, 128)}`, 'invalid_request_error', param);

/** The caller's object `id`, or the 404 (not handed out by gatelog, another tenant's, or deleted). */
export async function ownedRow(deps: BatchRouteDeps, c: Caller, kind: BatchObjectKind, id: string, param = 'id'): Promise<BatchObjectRow> {
  const row = await batchObject(deps.store, kind, id);
  if (!row || !owns(c, row) || row.status === 'deleted') throw noSuch(kind, id, param);
  return row;
}

/** The Files/Batches API of the provider an object lives on. */
export function filesOf(deps: BatchRouteDeps, provider: string): FilesApi {
  const files = deps.providers.get(provider)?.files;
  if (!files) throw new ProxyError(503, 'provider_unavailable', `The provider "${provider}" this object lives on is no longer configured with a Batch API.`, 'service_unavailable');
  return files;
}

/** The upstream's answer passed on as it came (an error is already in OpenAI's shape, scrubbed). */
export function passOn(reply: FastifyReply, res: FilesResponse): FastifyReply {
  return reply.code(res.status).header('content-type', res.contentType).send(res.body);
}

/** An upstream JSON object answer, parsed; undefined when it is not one. */
export function objectOf(res: FilesResponse): Record<string, unknown> | undefined {
  if (res.status < 200 || res.status >= 300) return undefined;
  try {
    const v = JSON.parse(res.body.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A new row owned by the caller. */
export function ownRow(c: Caller, r: Pick<BatchObjectRow, 'id' | 'kind' | 'provider' | 'purpose' | 'input_file_id' | 'status' | 'line_models' | 'object'>, now: number): BatchObjectRow {
  const key = keyOf(c);
  return { ...r, team: key?.team ?? '', key_id: key?.id ?? '', key_name: key?.name ?? '', created_at: new Date(now).toISOString() };
}

/** A state-changing action in the audit trail, with the key and team that did it. */
export async function auditBatchAction(deps: BatchRouteDeps, req: FastifyRequest, c: Caller, a: { action: string; targetType: string; target: string; details: Record<string, unknown> }): Promise<void> {
  const key = keyOf(c);
  await appendAudit(deps.store, {
    actor: key ? `key:${key.name}` : c.kind === 'master' ? 'master' : 'open-proxy',
    role: key ? 'virtual_key' : c.kind === 'master' ? 'owner' : '',
    action: a.action, targetType: a.targetType, target: a.target,
    details: { ...a.details, key_id: key?.id ?? '', team: key?.team ?? '' },
    sourceIp: req.ip, userAgent: req.headers['user-agent'] ?? '', at: new Date(deps.gov.now()),
  });
}

/** OpenAI's list body of `rows` (asked for limit + 1: the extra one only says more follow). */
export function listBody(rows: readonly BatchObjectRow[], limit: number): Record<string, unknown> {
  const data = rows.slice(0, limit).map((r) => JSON.parse(r.object) as Record<string, unknown>);
  return { object: 'list', data, first_id: data[0]?.['id'] ?? null, last_id: data.at(-1)?.['id'] ?? null, has_more: rows.length > limit };
}

/** `limit` and `after` of a list request, checked (400 naming the parameter). */
export function listParams(req: FastifyRequest, max: number, dflt: number): { limit: number; after: string | undefined } {
  const q = req.query as Record<string, unknown>;
  const raw = q['limit'];
  const limit = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new ProxyError(400, 'invalid_limit', `limit must be a whole number from 1 to ${max}.`, 'invalid_request_error', 'limit');
  const after = q['after'];
  if (after !== undefined && (typeof after !== 'string' || after.length > 256)) throw new ProxyError(400, 'invalid_after', 'after must be an object id.', 'invalid_request_error', 'after');
  return { limit, after: after as string | undefined };
}

/**
 * The scope's OpenAI error shape, and its auth: a virtual key or the master key as on every /v1
 * route (an open gatelog lets anyone in), remembered for the handlers. A key's request counts
 * against its rate limits (request-slot.ts): register each handler through the returned guard.
 */
export function installBatchSurface(app: FastifyInstance, deps: BatchRouteDeps, callers: Callers): RequestSlots['guard'] {
  installSurface(app, deps.metrics);
  app.addHook('preHandler', checkRedactHeader);
  const slots = requestSlots(deps.gov);
  app.addHook('onRequest', async (req, reply) => {
    const c = deps.gov.auth.identify(req.headers, deps.gov.now());
    if (c instanceof ProxyError) throw c;
    callers.set(req, c);
    if (c.kind === 'key') await slots.take(req, reply, c.key);
  });
  return slots.guard;
}

/** The caller the hook identified. */
export function callerOf(callers: Callers, req: FastifyRequest): Caller {
  const c = callers.get(req);
  if (!c) throw new ProxyError(401, 'invalid_api_key', 'No caller identified.', 'authentication_error');
  return c;
}
