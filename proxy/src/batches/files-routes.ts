// OpenAI's Files API through gatelog (`client.files.*`), for batch jobs:
//   POST   /files              upload a batch input file (multipart: `purpose=batch`, `file`)
//   GET    /files              the caller's team's files (`purpose`, `limit`, `after`)
//   GET    /files/:id          one file object
//   GET    /files/:id/content  its bytes (an input file as sent upstream; a batch's output)
//   DELETE /files/:id          deleted upstream, and gone for gatelog (audited as file.delete)
// An upload's lines name gatelog aliases: rewritten to the upstream model (input.ts), checked
// against the key's allow-list, all bound for one provider with a Batch API. Other purposes are
// refused (400 unsupported_purpose): a fine-tuning or assistants file would sit in the upstream
// account every tenant shares, used by APIs gatelog does not serve.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listBatchObjects, saveBatchObjects, type BatchObjectRow } from '@gatelog/core/store/batch-objects';
import { ProxyError, badRequest } from '../errors.ts';
import { checkModel } from '../governance/key-ring.ts';
import { checkTeamModel } from '../governance/team-policy.ts';
import { blockedKinds } from '../routes/content-block.ts';
import { requestedTreatment } from '../routes/body.ts';
import type { Treatment } from '@gatelog/core';
import { refusalError } from '../auth.ts';
import type { Caller } from '../auth.ts';
import { FormError, formBoundary, formFields, parseForm } from '../routes/multipart.ts';
import { BATCH_FILE_MAX_BYTES, joinYielding, rewriteBatchInput, type ResolveLine } from './input.ts';
import { auditBatchAction, callerOf, filesOf, installBatchSurface, keyOf, listBody, listParams, objectOf, ownedRow, ownRow, ownerScope, passOn, type BatchRouteDeps, type Callers } from './access.ts';

/** The whole upload: the file plus room for the form's fields and part headers. */
export const BATCH_FORM_MAX_BYTES = BATCH_FILE_MAX_BYTES + 64 * 1024;
/** An upstream object answer (a file or batch JSON) is small. */
export const OBJECT_MAX_BYTES = 1024 * 1024;

const tooLarge = (bytes: number): ProxyError =>
  new ProxyError(413, 'file_too_large', `A batch file through gatelog may be at most ${BATCH_FILE_MAX_BYTES} bytes (this upload: ${bytes}); split it into several batches.`, 'invalid_request_error', 'file');

/** The uploaded form: its `purpose` and its `file` part. */
function readUpload(raw: unknown, contentType: string | undefined): { purpose: string; filename: string; file: Buffer } {
  const boundary = formBoundary(contentType);
  if (boundary === null) throw badRequest('invalid_content_type', 'Content-Type must be multipart/form-data with a boundary: a file is uploaded as a form.');
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw badRequest('missing_file', 'You must provide a `file` parameter.', 'file');
  try {
    const form = parseForm(raw, boundary);
    const purpose = formFields(raw, form)['purpose'];
    const part = form.parts.find((p) => p.name === 'file' && p.filename !== null);
    if (!part) throw badRequest('missing_file', 'You must provide a `file` parameter.', 'file');
    return { purpose: typeof purpose === 'string' ? purpose : '', filename: part.filename ?? 'batch.jsonl', file: raw.subarray(part.start, part.end) };
  } catch (err) {
    if (err instanceof FormError) throw badRequest(err.code, err.message);
    throw err;
  }
}

/** A line's alias as the caller may use it: the key's allow-list (403), then routing (404 unknown). */
function resolver(deps: BatchRouteDeps, c: Caller, requested: Treatment | null): ResolveLine {
  const key = keyOf(c);
  const privacy = deps.privacy;
  return (alias) => {
    if (key) {
      const m = checkModel(key, alias);
      const t = m.ok ? checkTeamModel(deps.gov.teams, key, alias) : m;
      if (!t.ok) throw refusalError(t.refusal);
    }
    const dep = deps.table.resolve(alias);
    const p = dep.provider;
    // As a live call of this alias and key (and x-gatelog-redact): a `forward` treatment sends the provider redacted text.
    const forward = privacy?.treatment({ alias, keyId: key?.id ?? '', keyName: key?.name ?? '', requested }).forward === true;
    // As a live call too: kinds of content `redaction.block` names refuse the upload.
    const blocked = privacy?.blocking ? privacy.blocked({ alias, keyId: key?.id ?? '', keyName: key?.name ?? '' }) : null;
    return {
      provider: p.name, kind: p.kind, batches: p.files !== undefined, model: dep.model,
      redact: forward && privacy ? (text: string): string => privacy.call().redact(text) : undefined,
      blocked: blocked && privacy ? (text: string): string[] => blockedKinds(privacy.call(), blocked, text) : undefined,
    };
  };
}

/**
 * The upload as the provider takes it (multipart: `purpose=batch`, then the file), written in one
 * copy of the rewritten lines' pieces (a stretch at a time) — a 50 MiB file through FormData and a Blob was copied three
 * times, each a stretch of the event loop. The filename is escaped as browsers and undici's
 * FormData do (`"`, CR and LF percent-encoded).
 */
async function upstreamForm(filename: string, parts: readonly Buffer[]): Promise<{ body: Buffer; contentType: string }> {
  const boundary = `----gatelog${randomUUID().replaceAll('-', '')}`;
  const name = filename.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`
    + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/jsonl\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: await joinYielding([head, ...parts, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A file object seen again: its row updated when it changed. */
async function seen(deps: BatchRouteDeps, row: BatchObjectRow, o: Record<string, unknown>): Promise<void> {
  const object = JSON.stringify(o);
  if (object !== row.object) await saveBatchObjects(deps.store, [{ ...row, object, status: typeof o['status'] === 'string' ? o['status'] : row.status }]);
}

export function filesRoutes(deps: BatchRouteDeps) {
  const callers: Callers = new WeakMap();
  const idOf = (req: FastifyRequest): string => (req.params as { id: string }).id;

  const upload = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const c = callerOf(callers, req);
    const u = readUpload(req.body, req.headers['content-type']);
    if (u.purpose !== 'batch') {
      throw badRequest('unsupported_purpose', `gatelog keeps files for batch jobs only (purpose "batch"); "${u.purpose.slice(0, 64)}" files would be shared by every tenant of the upstream account.`, 'purpose');
    }
    if (u.file.length > BATCH_FILE_MAX_BYTES) throw tooLarge(u.file.length);
    // x-gatelog-redact as on a call: `forward` redacts the lines sent upstream; what it asks of
    // the stored copy applies to the lines' records when the batch is recorded (kept with the file).
    const requested = requestedTreatment(req);
    const input = await rewriteBatchInput(u.file, resolver(deps, c, requested), deps.lineMaxBytes);
    const files = filesOf(deps, input.provider);
    const form = await upstreamForm(u.filename, input.parts);
    const res = await files.send({ method: 'POST', path: '/files', body: form.body, contentType: form.contentType }, OBJECT_MAX_BYTES);
    const o = objectOf(res);
    if (!o || typeof o['id'] !== 'string') return passOn(reply, res);
    const row = ownRow(c, { id: o['id'], kind: 'file', provider: input.provider, purpose: 'batch', input_file_id: '', status: String(o['status'] ?? 'processed'), line_models: JSON.stringify(requested ? { ...input.lineModels, requested } : input.lineModels), object: JSON.stringify(o) }, deps.gov.now());
    await saveBatchObjects(deps.store, [row]);
    await auditBatchAction(deps, req, c, { action: 'file.create', targetType: 'file', target: row.id, details: { provider: row.provider, purpose: 'batch', lines: input.lines, bytes: u.file.length } });
    return passOn(reply, res);
  };

  const list = async (req: FastifyRequest): Promise<Record<string, unknown>> => {
    const c = callerOf(callers, req);
    const { limit, after } = listParams(req, 10_000, 10_000);
    const purpose = (req.query as Record<string, unknown>)['purpose'];
    const rows = await listBatchObjects(deps.store, { kind: 'file', owner: ownerScope(c), purpose: typeof purpose === 'string' ? purpose : undefined, after, limit });
    return listBody(rows, limit);
  };

  const retrieve = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const row = await ownedRow(deps, callerOf(callers, req), 'file', idOf(req));
    const res = await filesOf(deps, row.provider).send({ method: 'GET', path: `/files/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES);
    const o = objectOf(res);
    if (o) await seen(deps, row, o);
    return passOn(reply, res);
  };

  const content = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const row = await ownedRow(deps, callerOf(callers, req), 'file', idOf(req));
    // Streamed through as it arrives: a file of any size holds no more than a socket's buffers here.
    const res = await filesOf(deps, row.provider).stream({ method: 'GET', path: `/files/${encodeURIComponent(row.id)}/content` });
    return reply.code(res.status).header('content-type', res.contentType).send(res.body);
  };

  const remove = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const c = callerOf(callers, req);
    const row = await ownedRow(deps, c, 'file', idOf(req));
    const res = await filesOf(deps, row.provider).send({ method: 'DELETE', path: `/files/${encodeURIComponent(row.id)}` }, OBJECT_MAX_BYTES);
    if (res.status >= 200 && res.status < 300) {
      await saveBatchObjects(deps.store, [{ ...row, status: 'deleted' }]);
      await auditBatchAction(deps, req, c, { action: 'file.delete', targetType: 'file', target: row.id, details: { provider: row.provider, owner_team: row.team, owner_key_id: row.key_id } });
    }
    return passOn(reply, res);
  };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    const guard = installBatchSurface(app, deps, callers);
    // A declared length over the limit is answered at once, before a byte of the body is read.
    app.addHook('onRequest', (req, _reply, next) => {
      const len = Number(req.headers['content-length']);
      next(req.method === 'POST' && Number.isFinite(len) && len > BATCH_FORM_MAX_BYTES ? tooLarge(len) : undefined);
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BATCH_FORM_MAX_BYTES }, (_req, body, next) => next(null, body));
    app.post('/files', { bodyLimit: BATCH_FORM_MAX_BYTES }, guard(upload));
    app.get('/files', guard(list));
    app.get('/files/:id', guard(retrieve));
    app.get('/files/:id/content', guard(content));
    app.delete('/files/:id', guard(remove));
    done();
  };
}
