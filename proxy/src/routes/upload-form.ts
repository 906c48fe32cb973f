// Multipart uploads to the OpenAI surface (audio transcriptions and translations, image edits
// and variations), one machinery for every family of them: the client's bytes are forwarded as
// received (the `model` part rewritten in place only when an alias names another upstream
// model), governed and routed like chat, and recorded as a small JSON of the form's text fields
// plus each file's name, type and size in the family's shape: the files themselves are never
// stored. A family (openai-audio.ts, openai-image-uploads.ts) supplies its endpoints, its form
// limit and its checks; the form is read in place by multipart.ts.
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
import { screenRequest } from './content-block.ts';

/** What the upload routes need of the OpenAI surface's dependencies (openai.ts OpenAiRouteDeps). */
export interface UploadRouteDeps {
  table: ModelTable;
  env: RelayEnv;
  gov?: Governance | undefined;
}

/** One file of a form as the record shows it (never its bytes). */
export interface FormFile {
  /** The part's name: `file`, `image`, `image[]`, `mask`. */
  field: string;
  filename: string;
  content_type: string;
  bytes: number;
}

/** A client's form as read: its layout, plain fields and file parts. */
export interface UploadForm {
  form: ParsedForm;
  contentType: string;
  fields: Record<string, FieldValue>;
  files: FormFile[];
}

export interface UploadEndpoint {
  path: string;
  api: UpstreamApi;
  /** Throws the 400 (or 413) for a form this endpoint cannot take; run once the model is known. */
  check(f: UploadForm): void;
}

export interface UploadFamily {
  endpoints: readonly UploadEndpoint[];
  /** The whole form's limit: a larger request is answered 413 (before it is read, when declared). */
  formMaxBytes: number;
  /** The error for an empty body: the family's missing file. */
  missingFile(): ProxyError;
  /** OpenAI's 413 for a request over the limit. */
  tooLarge(bytes: number): ProxyError;
  /** What the record shows for a form (and what governance and the mock read): fields and file metadata. */
  describe(fields: Record<string, FieldValue>, files: readonly FormFile[]): Record<string, unknown>;
  /** What is uploaded, for the 400 on a body that is not a form: 'audio', 'an image'. */
  what: string;
}

/** The plain field `name`, when sent once. */
export function formField(fields: Record<string, FieldValue>, name: string): string | undefined {
  const v = fields[name];
  return typeof v === 'string' ? v : undefined;
}

/** gatelog relays no upload's event stream: the answer is captured as one body. */
export const streamRefused = (path: string): ProxyError =>
  badRequest('stream_unsupported', `Streaming is not supported on ${path} through gatelog; leave \`stream\` unset or false.`, 'stream');

const shownText = (family: UploadFamily, fields: Record<string, FieldValue>, files: readonly FormFile[]): string => JSON.stringify(family.describe(fields, files));

/** Read the client's form; throws the 400 to answer when it cannot be used. */
export function readUploadForm(family: UploadFamily, raw: unknown, contentType: string | undefined): UploadForm {
  const boundary = formBoundary(contentType);
  if (boundary === null) throw badRequest('invalid_content_type', `Content-Type must be multipart/form-data with a boundary: ${family.what} is uploaded as a form.`);
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw family.missingFile();
  let form: ParsedForm;
  try {
    form = parseForm(raw, boundary);
  } catch (err) {
    if (err instanceof FormError) throw badRequest(err.code, err.message);
    throw err;
  }
  const files = form.parts.filter((p) => p.filename !== null).map((p) => ({ field: p.name, filename: p.filename ?? '', content_type: p.contentType, bytes: p.end - p.start }));
  return { form, contentType: contentType!, fields: formFields(raw, form), files };
}

/** The record's view of a form answered with an error before a handler ran (error-record.ts). */
export function shownUpload(family: UploadFamily): (raw: unknown, contentType: string | undefined) => { text: string; json: Record<string, unknown> } | null {
  return (raw, contentType) => {
    try {
      const f = readUploadForm(family, raw, contentType);
      const json = family.describe(f.fields, f.files);
      return { text: JSON.stringify(json), json };
    } catch {
      return null;
    }
  };
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
 * `forward` redaction: the provider gets the form with its text fields redacted (a prompt may
 * name people), with the placeholders the stored copy carries. The files cannot be redacted.
 */
function redactedForm(raw: Buffer, f: UploadForm, redact: (s: string) => string): { raw: Buffer; f: UploadForm } {
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
  return { raw: body, f: { ...f, form, fields: formFields(body, form) } };
}

/**
 * The form sent upstream for each deployment's model name: the client's own bytes when they
 * name that model already and redaction changed nothing. Written when the relay sends it (a
 * refusal there releases what governance reserved), the model field spliced in place.
 */
function formBody(family: UploadFamily, raw: Buffer, client: UploadForm, clientModel: string | undefined, redact: ((s: string) => string) | null): FormBody {
  let base: { raw: Buffer; f: UploadForm } | null = null;
  const sent = (): { raw: Buffer; f: UploadForm } => (base ??= writing(() => (redact ? redactedForm(raw, client, redact) : { raw, f: client })));
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
      return shownText(family, model === clientModel ? f.fields : { ...f.fields, model }, f.files);
    },
  };
}

/**
 * A family's upload routes, in a scope of their own: the form parser (raw bytes, up to the
 * family's limit) applies to them only, and the parent's auth, error shape and recording hooks
 * to them as to every model route. `azure`: the path's deployment names the model alias.
 */
export function uploadRoutes(deps: UploadRouteDeps, o: { azure?: boolean }, family: UploadFamily) {
  const { table, env, gov } = deps;
  const limit = family.formMaxBytes;
  const handler = (ep: UploadEndpoint) =>
    async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const raw = req.body as Buffer;
      const f = readUploadForm(family, raw, req.headers['content-type']);
      const clientModel = formField(f.fields, 'model');
      const pathModel = o.azure ? (req.params as { deployment?: string }).deployment : undefined;
      const requested = pathModel ?? clientModel;
      if (requested === undefined || requested.length === 0) throw badRequest('missing_model', 'You must provide a model parameter.', 'model');
      ep.check(f);
      const endpoint = `/v1${ep.path}`;
      const text = shownText(family, f.fields, f.files);
      // The parsed form as the rest of the call sees it (governance, request metadata): no file bytes.
      const json: Record<string, unknown> = { ...family.describe(f.fields, f.files), model: requested };
      if (gov) gateModel(gov, env, req, reply, requested, () => newCallRecord(req, { endpoint, api: ep.api, requested, dep: null, stream: false, text, json }));
      const plan = table.plan(requested, req.headers);
      const dep = { provider: plan.first.state.provider, model: plan.first.state.model };
      const rec = newCallRecord(req, { endpoint, api: ep.api, requested, dep, stream: false, text, json });
      // `redaction.block` screens the record's text: the form's text fields (a prompt), not the files.
      screenRequest(env, gov, req, rec);
      if (gov && !(await admit(gov, env, req, reply, rec, json, { includeUsage: false }))) return;
      const privacy = env.privacy;
      const redact = privacy && treatmentFor(rec, privacy).forward ? (v: string): string => (rec.redaction ??= privacy.call()).redact(v) : null;
      const form = formBody(family, raw, f, clientModel, redact);
      // The bytes sent are the form's (dispatch asks it per deployment): `upstreamBody` is the client's.
      await relay(env, reply, { rec, provider: dep.provider, route: endpoint, upstreamBody: raw, json: { ...json, model: dep.model }, dropUsageChunk: false, plan, form });
    };
  const uploadShown = shownUpload(family);

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // A declared length over the limit is answered at once, before a byte of the body is read.
    app.addHook('onRequest', (req, _reply, next) => {
      const len = Number(req.headers['content-length']);
      next(Number.isFinite(len) && len > limit ? family.tooLarge(len) : undefined);
    });
    app.removeAllContentTypeParsers();
    // Any content type reaches the handler, which answers a non-form with OpenAI's 400.
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_req, body, next) => next(null, body));
    for (const ep of family.endpoints) app.post(ep.path, { config: { modelApi: ep.api, uploadShown }, bodyLimit: limit }, handler(ep));
    done();
  };
}
