// OpenAI's audio uploads, POST /audio/transcriptions and /audio/translations: multipart forms
// with a `file` up to 25 MB. The client's bytes are forwarded as received (the `model` part
// rewritten in place only when an alias names another upstream model), governed and routed like
// chat, and recorded as a small JSON of the form's fields plus `{file: {filename, content_type,
// bytes}}`: the audio itself is never stored. (`/audio/speech` is JSON: openai.ts.)
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProxyError, badRequest } from '../errors.ts';
import { relay } from '../relay.ts';
import { newCallRecord } from './body.ts';
import { FormError, formBoundary, formFields, parseForm, withField, type FieldValue, type ParsedForm } from './multipart.ts';
import type { FormBody, UpstreamApi } from '../providers/types.ts';
import { admit, gateModel } from '../governance/admit.ts';
import type { Governance } from '../governance/runtime.ts';
import type { ModelTable } from '../routing/resolve.ts';
import type { RelayEnv } from '../relay.ts';
import { treatmentFor } from '../capture/call-record.ts';

/** What the upload routes need of the OpenAI surface's dependencies (openai.ts OpenAiRouteDeps). */
export interface AudioRouteDeps {
  table: ModelTable;
  env: RelayEnv;
  gov?: Governance | undefined;
}

/** OpenAI's limit on an uploaded audio file (https://platform.openai.com/docs/guides/speech-to-text). */
export const AUDIO_FILE_MAX_BYTES = 25 * 1024 * 1024;
/** The whole form: the file plus room for its fields and part headers. */
export const AUDIO_FORM_MAX_BYTES = AUDIO_FILE_MAX_BYTES + 1024 * 1024;

interface UploadEndpoint {
  path: string;
  api: UpstreamApi;
}

export const AUDIO_UPLOADS: readonly UploadEndpoint[] = [
  { path: '/audio/transcriptions', api: 'openai.audio.transcriptions' },
  { path: '/audio/translations', api: 'openai.audio.translations' },
];

/** OpenAI's 413 for an upload over its limit, in its words. */
const tooLarge = (bytes: number, limit: number, what: string): ProxyError =>
  new ProxyError(413, 'file_too_large', `Maximum content size limit (${limit}) exceeded (${bytes} ${what}): audio files are limited to 25 MB.`, 'invalid_request_error', 'file');

/** A client's form as read: its layout, plain fields and the file part. */
export interface AudioForm {
  form: ParsedForm;
  contentType: string;
  fields: Record<string, FieldValue>;
  /** What the record shows for the request (the client's fields and the file's metadata). */
  shown: string;
  file: { filename: string; content_type: string; bytes: number } | null;
}

function describe(fields: Record<string, FieldValue>, file: AudioForm['file']): string {
  return JSON.stringify(file ? { ...fields, file } : fields);
}

/** Read the client's form; throws the 400 (or 413) to answer when it cannot be used. */
export function readAudioForm(raw: unknown, contentType: string | undefined): AudioForm {
  const boundary = formBoundary(contentType);
  if (boundary === null) throw badRequest('invalid_content_type', 'Content-Type must be multipart/form-data with a boundary: audio is uploaded as a form.');
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw badRequest('missing_file', 'You must provide a `file` parameter.', 'file');
  let form: ParsedForm;
  try {
    form = parseForm(raw, boundary);
  } catch (err) {
    if (err instanceof FormError) throw badRequest(err.code, err.message);
    throw err;
  }
  const part = form.parts.find((p) => p.name === 'file' && p.filename !== null);
  const file = part ? { filename: part.filename ?? '', content_type: part.contentType, bytes: part.end - part.start } : null;
  const fields = formFields(raw, form);
  return { form, contentType: contentType!, fields, shown: describe(fields, file), file };
}

/** The record's view of the request for errors answered before a handler ran (error-record.ts). */
export function shownAudioRequest(raw: unknown, contentType: string | undefined): { text: string; json: Record<string, unknown> } | null {
  try {
    const f = readAudioForm(raw, contentType);
    return { text: f.shown, json: JSON.parse(f.shown) as Record<string, unknown> };
  } catch {
    return null;
  }
}

/** Form errors met while writing the body to send: the client's 400 (nothing was sent). */
function writing<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof FormError) throw badRequest(err.code, err.message);
    throw err;
  }
}

/**
 * `forward` redaction: the provider gets the form with its text fields redacted (the prompt may
 * name people), with the placeholders the stored copy carries. The audio cannot be redacted.
 */
function redactedForm(raw: Buffer, f: AudioForm, redact: (s: string) => string): { raw: Buffer; f: AudioForm } {
  let body = raw;
  let form = f.form;
  for (const [name, value] of Object.entries(f.fields)) {
    if (typeof value !== 'string') continue;
    const red = redact(value);
    if (red === value) continue;
    body = withField(body, form, name, red);
    form = parseForm(body, form.boundary);
  }
  if (body === raw) return { raw, f };
  const fields = formFields(body, form);
  return { raw: body, f: { ...f, form, fields, shown: describe(fields, f.file) } };
}

/**
 * The form sent upstream for each deployment's model name: the client's own bytes when they
 * name that model already and redaction changed nothing. Written when the relay sends it (a
 * refusal there releases what governance reserved), the model field spliced in place.
 */
function formBody(raw: Buffer, client: AudioForm, clientModel: string | undefined, redact: ((s: string) => string) | null): FormBody {
  let base: { raw: Buffer; f: AudioForm } | null = null;
  const sent = (): { raw: Buffer; f: AudioForm } => (base ??= writing(() => (redact ? redactedForm(raw, client, redact) : { raw, f: client })));
  let last: { model: string; body: Buffer } | null = null;
  return {
    contentType: client.contentType,
    raw,
    forModel(model) {
      const b = sent();
      if (model === clientModel) return b.raw;
      if (last?.model !== model) last = { model, body: writing(() => withField(b.raw, b.f.form, 'model', model)) };
      return last.body;
    },
    shownFor(model) {
      const { f } = sent();
      return model === clientModel ? f.shown : describe({ ...f.fields, model }, f.file);
    },
  };
}

/** The plain field `name`, when sent once. */
function field(fields: Record<string, FieldValue>, name: string): string | undefined {
  const v = fields[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The upload routes, in a scope of their own: the form parser (raw bytes, up to
 * AUDIO_FORM_MAX_BYTES) applies to them only, and the parent's auth, error shape and recording
 * hooks to them as to every model route. `azure`: the path's deployment names the model alias.
 */
export function audioUploadRoutes(deps: AudioRouteDeps, o: { azure?: boolean }) {
  const { table, env, gov } = deps;
  const handler = (ep: UploadEndpoint) =>
    async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const raw = req.body as Buffer;
      const f = readAudioForm(raw, req.headers['content-type']);
      const clientModel = field(f.fields, 'model');
      const pathModel = o.azure ? (req.params as { deployment?: string }).deployment : undefined;
      const requested = pathModel ?? clientModel;
      if (requested === undefined || requested.length === 0) throw badRequest('missing_model', 'You must provide a model parameter.', 'model');
      if (!f.file) throw badRequest('missing_file', 'You must provide a `file` parameter.', 'file');
      if (f.file.bytes > AUDIO_FILE_MAX_BYTES) throw tooLarge(f.file.bytes, AUDIO_FILE_MAX_BYTES, 'bytes in the file');
      // gpt-4o-transcribe's event stream is not relayed: the transcript is captured as one body.
      if (field(f.fields, 'stream') === 'true') throw badRequest('stream_unsupported', `Streaming is not supported on ${ep.path} through gatelog; leave \`stream\` unset or false.`, 'stream');
      const endpoint = `/v1${ep.path}`;
      // The parsed form as the rest of the call sees it (governance, request metadata): fields only.
      const json: Record<string, unknown> = { ...f.fields, model: requested, file: f.file };
      if (gov) gateModel(gov, env, req, reply, requested, () => newCallRecord(req, { endpoint, api: ep.api, requested, dep: null, stream: false, text: f.shown, json }));
      const plan = table.plan(requested, req.headers);
      const dep = { provider: plan.first.state.provider, model: plan.first.state.model };
      const rec = newCallRecord(req, { endpoint, api: ep.api, requested, dep, stream: false, text: f.shown, json });
      if (gov && !(await admit(gov, env, req, reply, rec, json, { includeUsage: false }))) return;
      const privacy = env.privacy;
      const redact = privacy && treatmentFor(rec, privacy).forward ? (v: string): string => (rec.redaction ??= privacy.call()).redact(v) : null;
      const form = formBody(raw, f, clientModel, redact);
      // The bytes sent are the form's (dispatch asks it per deployment): `upstreamBody` is the client's.
      await relay(env, reply, { rec, provider: dep.provider, route: endpoint, upstreamBody: raw, json: { ...json, model: dep.model }, dropUsageChunk: false, plan, form });
    };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // A declared length over the limit is answered at once, before a byte of the body is read.
    app.addHook('onRequest', (req, _reply, next) => {
      const len = Number(req.headers['content-length']);
      next(Number.isFinite(len) && len > AUDIO_FORM_MAX_BYTES ? tooLarge(len, AUDIO_FORM_MAX_BYTES, 'bytes in the request') : undefined);
    });
    app.removeAllContentTypeParsers();
    // Any content type reaches the handler, which answers a non-form with OpenAI's 400.
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: AUDIO_FORM_MAX_BYTES }, (_req, body, next) => next(null, body));
    for (const ep of AUDIO_UPLOADS) app.post(ep.path, { config: { modelApi: ep.api }, bodyLimit: AUDIO_FORM_MAX_BYTES }, handler(ep));
    done();
  };
}
