// OpenAI's Batch API through gatelog (`client.batches.*`):
//   POST /batches             create a batch of one of the caller's uploaded files (audited as batch.create;
//                             refused 429 when the key's or team's budget is already spent)
//   GET  /batches             the caller's team's batches (`limit`, `after`)
//   GET  /batches/:id         one batch; once it ended with results, they are recorded as calls (record.ts)
//   POST /batches/:id/cancel  cancel it (audited as batch.cancel)
// A batch goes to the provider its input file was uploaded to. Its output and error files become
// the batch owner's files, so the client reads them with `files.content` like its own.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BATCH_RESULTS, batchObject, listBatchObjects, saveBatchObjects, type BatchObjectRow } from '@gatelog/core/store/batch-objects';
import type { Logger } from '@gatelog/core';
import { badRequest } from '../errors.ts';
import { parseJsonBody } from '../routes/body.ts';
import type { FilesApi } from '../providers/types.ts';
import { budgetScopes } from '../governance/budget-scope.ts';
import { refusalError, type Caller } from '../auth.ts';
import { auditBatchAction, callerOf, filesOf, installBatchSurface, keyOf, listBody, listParams, objectOf, ownedRow, ownRow, ownerScope, passOn, type BatchRouteDeps, type Callers } from './access.ts';
import { OBJECT_MAX_BYTES } from './files-routes.ts';

const CREATE_MAX_BYTES = 64 * 1024;

/**
 * A key (or its team) whose budget is already spent starts no batch: 429 budget_exceeded, as a
 * live call would get. Nothing is held: the batch's cost is counted once its results are recorded.
 */
async function budgetGate(deps: BatchRouteDeps, c: Caller): Promise<void> {
  const key = keyOf(c);
  if (!key) return;
  const g = deps.gov;
  const scopes = budgetScopes(key, g.teamBudgets);
  if (scopes.length === 0) return;
  const now = g.now();
  const r = await g.ledger.reserve(scopes, 0, now);
  if (!r.ok) throw refusalError(r.refusal);
  await g.ledger.settle(r.value, 0, now);
}

/** The output and error files a batch object names, as rows owned like the batch. */
async function resultFiles(files: FilesApi, batch: BatchObjectRow, o: Record<string, unknown>, known: (id: string) => Promise<boolean>): Promise<BatchObjectRow[]> {
  const rows: BatchObjectRow[] = [];
  for (const f of [o['output_file_id'], o['error_file_id']]) {
    if (typeof f !== 'string' || f === '' || (await known(f))) continue;
    const res = await files.send({ method: 'GET', path: `/files/${encodeURIComponent(f)}` }, OBJECT_MAX_BYTES);
    const fo = objectOf(res) ?? { id: f, object: 'file', purpose: 'batch_output' };
    rows.push({ ...batch, id: f, kind: 'file', purpose: String(fo['purpose'] ?? 'batch_output'), input_file_id: '', status: String(fo['status'] ?? 'processed'), line_models: '', object: JSON.stringify(fo) });
  }
  return rows;
}

/**
 * A batch object seen upstream: its row updated when it changed, its result files taken in, and
 * once it has ended with results (completed, or what a cancelled or expired batch finished) they
 * are recorded (in the background: the answer does not wait).
 */
export async function batchSeen(deps: BatchRouteDeps, row: BatchObjectRow, o: Record<string, unknown>, logger: Logger): Promise<BatchObjectRow> {
  const object = JSON.stringify(o);
  const status = typeof o['status'] === 'string' ? o['status'] : row.status;
  const next = { ...row, object, status };
  if (object !== row.object) {
    const files = deps.providers.get(row.provider)?.files;
    const results = files ? await resultFiles(files, next, o, async (id) => (await batchObject(deps.store, 'file', id)) !== undefined) : [];
    await saveBatchObjects(deps.store, [next, ...results]);
  }
  if ((BATCH_RESULTS as readonly string[]).includes(status)) {
    void batchObject(deps.store, 'file', row.input_file_id)
      .then((input) => deps.recorder.record(next, input))
      .catch((err: unknown) => logger.warn({ err, batch_id: row.id, code: 'GATELOG_ERR_BATCH_RECORD' }, 'could not record a batch\'s results; the poller tries again'));
  }
  return next;
}

export function batchRoutes(deps: BatchRouteDeps, logger: Logger) {
  const callers: Callers = new WeakMap();
  const idOf = (req: FastifyRequest): string => (req.params as { id: string }).id;

  const create = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const c = callerOf(callers, req);
    const { json } = parseJsonBody(req.body);
    const fileId = json['input_file_id'];
    if (typeof fileId !== 'string' || fileId === '') throw badRequest('missing_input_file_id', 'You must provide an `input_file_id`.', 'input_file_id');
    const file = await ownedRow(deps, c, 'file', fileId, 'input_file_id');
    await budgetGate(deps, c);
    if (file.line_models === '') throw badRequest('invalid_input_file', `File ${fileId} was not uploaded through gatelog as a batch input file (purpose "batch").`, 'input_file_id');
    const files = filesOf(deps, file.provider);
    const res = await files.send({ method: 'POST', path: '/batches', body: Buffer.from(JSON.stringify(json)) }, OBJECT_MAX_BYTES);
    const o = objectOf(res);
    if (!o || typeof o['id'] !== 'string') return passOn(reply, res);
    const row = ownRow(c, { id: o['id'], kind: 'batch', provider: file.provider, purpose: '', input_file_id: fileId, status: String(o['status'] ?? 'validating'), line_models: '', object: JSON.stringify(o) }, deps.gov.now());
    await saveBatchObjects(deps.store, [row]);
    await auditBatchAction(deps, req, c, { action: 'batch.create', targetType: 'batch', target: row.id, details: { provider: row.provider, input_file_id: fileId, endpoint: json['endpoint'] ?? null, completion_window: json['completion_window'] ?? null } });
    return passOn(reply, res);
  };

  const list = async (req: FastifyRequest): Promise<Record<string, unknown>> => {
    const { limit, after } = listParams(req, 100, 20);
    const rows = await listBatchObjects(deps.store, { kind: 'batch', owner: ownerScope(callerOf(callers, req)), after, limit });
    return listBody(rows, limit);
  };

  const retrieve = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const row = await ownedRow(deps, callerOf(callers, req), 'batch', idOf(req));
    const res = await filesOf(deps, row.provider).send({ method: 'GET', path: `/batches/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES);
    const o = objectOf(res);
    if (o) await batchSeen(deps, row, o, logger);
    return passOn(reply, res);
  };

  const cancel = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const c = callerOf(callers, req);
    const row = await ownedRow(deps, c, 'batch', idOf(req));
    const res = await filesOf(deps, row.provider).send({ method: 'POST', path: `/batches/${encodeURIComponent(row.id)}/cancel` }, OBJECT_MAX_BYTES);
    const o = objectOf(res);
    if (o) {
      await batchSeen(deps, row, o, logger);
      await auditBatchAction(deps, req, c, { action: 'batch.cancel', targetType: 'batch', target: row.id, details: { provider: row.provider, owner_team: row.team, owner_key_id: row.key_id, status: o['status'] ?? null } });
    }
    return passOn(reply, res);
  };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    const guard = installBatchSurface(app, deps, callers);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: CREATE_MAX_BYTES }, (_req, body, next) => next(null, body));
    app.post('/batches', guard(create));
    app.get('/batches', guard(list));
    app.get('/batches/:id', guard(retrieve));
    app.post('/batches/:id/cancel', guard(cancel));
    done();
  };
}
