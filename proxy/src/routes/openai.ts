// OpenAI-compatible surface under /v1: the route table, input validation and the hand-off
// to the relay. The body is parsed exactly once; when it must change (alias → upstream model
// name, stream_options.include_usage) only those top-level fields of its text are rewritten.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProxyError, badRequest } from '../errors.ts';
import { relay, type RelayEnv } from '../relay.ts';
import { installApiSurface } from './surface.ts';
import { AUDIO_FAMILY } from './openai-audio.ts';
import { IMAGE_UPLOAD_FAMILY } from './openai-image-uploads.ts';
import { uploadRoutes } from './upload-form.ts';
import { forwardBody, newCallRecord, parseJsonBody, requireModel, routedBody } from './body.ts';
import type { AuthCheck } from '../auth.ts';
import type { ModelTable } from '../routing/resolve.ts';
import type { UpstreamApi } from '../providers/types.ts';
import { admit, gateModel } from '../governance/admit.ts';
import { screenRequest } from './content-block.ts';
import type { Governance } from '../governance/runtime.ts';
import { allowedAliases } from '../governance/team-policy.ts';

export interface OpenAiRouteDeps {
  table: ModelTable;
  env: RelayEnv;
  auth: AuthCheck | null;
  /** Keys, limits, budgets and the cache; absent = none. */
  gov?: Governance | undefined;
}

interface Endpoint {
  path: string;
  api: UpstreamApi;
  canStream: boolean;
  /** Field that must be present (non-empty array for messages). */
  required: 'messages' | 'prompt' | 'input';
  /**
   * `stream: true` (speech: `stream_format: 'sse'`) is refused (400), as OpenAI refuses it for
   * models that cannot stream: the answer is captured as one body, so an upstream event stream
   * is not asked for.
   */
  refuseStream?: true;
}

const ENDPOINTS: readonly Endpoint[] = [
  { path: '/chat/completions', api: 'openai.chat', canStream: true, required: 'messages' },
  { path: '/completions', api: 'openai.completions', canStream: true, required: 'prompt' },
  { path: '/embeddings', api: 'openai.embeddings', canStream: false, required: 'input' },
  { path: '/images/generations', api: 'openai.images', canStream: false, required: 'prompt', refuseStream: true },
  { path: '/moderations', api: 'openai.moderations', canStream: false, required: 'input' },
  // Text to speech: JSON in, audio bytes out (recorded by content type and size, relay.ts).
  { path: '/audio/speech', api: 'openai.audio.speech', canStream: false, required: 'input', refuseStream: true },
];

function validate(ep: Endpoint, json: Record<string, unknown>): string {
  const model = requireModel(json);
  const field = json[ep.required];
  if (ep.required === 'messages') {
    if (!Array.isArray(field) || field.length === 0) throw badRequest('invalid_messages', '`messages` must be a non-empty array.', 'messages');
  } else {
    if (field === undefined || field === null) throw badRequest(`missing_${ep.required}`, `You must provide a \`${ep.required}\` parameter.`, ep.required);
    if (ep.refuseStream && json['stream'] === true) throw badRequest('stream_unsupported', `Streaming is not supported on ${ep.path} through gatelog; send \`stream: false\`.`, 'stream');
    if (ep.refuseStream && json['stream_format'] === 'sse') throw badRequest('stream_unsupported', `Streaming is not supported on ${ep.path} through gatelog; send \`stream_format: 'audio'\`.`, 'stream_format');
  }
  return model;
}

function wantsUsage(json: Record<string, unknown>): boolean {
  const so = json['stream_options'];
  return !!so && typeof so === 'object' && (so as { include_usage?: unknown }).include_usage === true;
}

/** The `GET /v1/models` body parsed, and its entries by id: once per list body, not per request. */
let parsedModels: { body: string; all: { object: string; data: { id: string }[] }; byId: Map<string, unknown> } | undefined;
function modelsOf(listBody: string): NonNullable<typeof parsedModels> {
  if (parsedModels?.body !== listBody) {
    const all = JSON.parse(listBody) as { object: string; data: { id: string }[] };
    parsedModels = { body: listBody, all, byId: new Map(all.data.map((m) => [m.id, m])) };
  }
  return parsedModels;
}

/** One entry of the `GET /v1/models` body by id. */
const modelEntry = (listBody: string, id: string): unknown => modelsOf(listBody).byId.get(id);

/** The `GET /v1/models` body narrowed to the ids a key may call. */
function modelsFor(listBody: string, allowed: ReadonlySet<string>): string {
  const { all } = modelsOf(listBody);
  return JSON.stringify({ object: all.object, data: all.data.filter((m) => allowed.has(m.id)) });
}

/** Multipart uploads: audio to transcribe or translate, images to edit or vary. */
const UPLOADS = [AUDIO_FAMILY, IMAGE_UPLOAD_FAMILY] as const;

/**
 * The OpenAI paths also served without `/v1`, as LiteLLM's proxy serves them: its users point
 * the OpenAI SDK at the bare origin (`base_url="http://proxy:4000"`), and their calls keep working
 * when only the host changes. Recorded under the `/v1` endpoint like any other call.
 */
export const OPENAI_ROOT_PATHS: readonly string[] = [...ENDPOINTS.map((e) => e.path), ...UPLOADS.flatMap((u) => u.endpoints.map((e) => e.path)), '/models', '/responses'];

/** Where Azure OpenAI clients send calls: `{endpoint}/openai/deployments/{deployment}/…`. */
export const AZURE_PREFIX = '/openai/deployments/:deployment';

/**
 * Azure OpenAI clients (`AzureOpenAI`, LangChain's `AzureChatOpenAI`) send their key as `api-key`;
 * on the Azure paths it is read as the Bearer credential, unless one was sent.
 */
function azureKey(req: FastifyRequest, _reply: FastifyReply, next: () => void): void {
  const k = req.headers['api-key'];
  if (typeof k === 'string' && k.length > 0 && req.headers.authorization === undefined) req.headers.authorization = `Bearer ${k}`;
  next();
}

/** What an OpenAI stream's body gets when the client did not ask for usage: the recorded call needs it. */
const INCLUDE_USAGE = JSON.stringify({ include_usage: true });

/**
 * `root`: the plugin serves the unprefixed aliases, so it leaves every other path to its parent.
 * `azure`: mounted at AZURE_PREFIX; the path's deployment names the model alias (over the body's).
 */
export function openAiRoutes(deps: OpenAiRouteDeps, o: { root?: boolean; azure?: boolean } = {}) {
  const { table, env, auth, gov } = deps;

  const handler = (ep: Endpoint) =>
    async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const { text, json, bytes, pieces } = parseJsonBody(req.body);
      // Azure: the deployment in the path is the model; the body's is replaced if it named another.
      const pathModel = o.azure ? (req.params as { deployment?: string }).deployment : undefined;
      const renamed = pathModel !== undefined && json['model'] !== pathModel;
      if (renamed) json['model'] = pathModel;
      const requested = validate(ep, json);
      // The allow-list first: nothing is kept for a model name the key may not use.
      if (gov) gateModel(gov, env, req, reply, requested, () => newCallRecord(req, { endpoint: `/v1${ep.path}`, api: ep.api, requested, dep: null, stream: ep.canStream && json['stream'] === true, text, json }));
      // Routing: the attempt plan picks the first deployment; retries/fallbacks follow in the relay.
      const plan = table.plan(requested, req.headers);
      const dep = { provider: plan.first.state.provider, model: plan.first.state.model };
      const stream = ep.canStream && json['stream'] === true;
      const addUsage = stream && !wantsUsage(json);
      const set: Record<string, string> = {};
      if (dep.model !== requested || addUsage || renamed) {
        json['model'] = dep.model;
        set['model'] = JSON.stringify(dep.model);
        if (addUsage) {
          const so = json['stream_options'];
          if (so && typeof so === 'object') {
            json['stream_options'] = { ...(so as object), include_usage: true };
            set['stream_options'] = JSON.stringify(json['stream_options']);
          } else {
            json['stream_options'] = { include_usage: true };
            set['stream_options'] = INCLUDE_USAGE;
          }
        }
      }
      const upstreamBody = routedBody(req.body as Buffer, text, json, set, pieces);
      const rec = newCallRecord(req, { endpoint: `/v1${ep.path}`, api: ep.api, requested, dep, stream, text, json, bytes, pieces });
      // Governance may refuse (recorded, then thrown) or answer from the cache (false).
      screenRequest(env, gov, req, rec);
      if (gov && !(await admit(gov, env, req, reply, rec, json, { includeUsage: stream && !addUsage }))) return;
      const fwd = forwardBody(env, rec, upstreamBody, json);
      await relay(env, reply, { rec, provider: dep.provider, route: `/v1${ep.path}`, upstreamBody: fwd.body, json: fwd.json, derived: fwd.derived, set: fwd.set, bytes: fwd.bytes, dropUsageChunk: addUsage, plan });
    };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // Before the auth check installApiSurface adds: hooks run in the order they were added.
    if (o.azure) app.addHook('onRequest', azureKey);
    installApiSurface(app, { env, auth, callerOf: gov?.auth.callerOf });
    for (const ep of ENDPOINTS) app.post(ep.path, { config: { modelApi: ep.api } }, handler(ep));
    // Uploads: a scope per family, so the form parser and its limit apply to them only.
    for (const family of UPLOADS) void app.register(uploadRoutes(deps, o, family));
    if (o.azure) {
      done();
      return;
    }
    // A virtual key with a model allow-list sees the models it may call (as LiteLLM lists them).
    const allowedFor = (req: FastifyRequest): ReadonlySet<string> | undefined => {
      const caller = gov?.auth.callerOf(req.headers);
      return caller?.kind === 'key' && gov ? allowedAliases(gov.teams, caller.key) : undefined;
    };
    app.get('/models', (req, reply) => {
      const allowed = allowedFor(req);
      void reply.header('content-type', 'application/json; charset=utf-8').send(allowed ? modelsFor(table.listBody, allowed) : table.listBody);
    });
    // OpenAI's `models.retrieve(id)`; ids may hold a slash (provider/model), encoded or not.
    app.get('/models/*', (req, reply) => {
      const id = (req.params as { '*': string })['*'];
      const allowed = allowedFor(req);
      const entry = allowed && !allowed.has(id) ? undefined : modelEntry(table.listBody, id);
      if (entry === undefined) {
        const shown = id.length > 200 ? `${id.slice(0, 200)}…` : id;
        throw new ProxyError(404, 'model_not_found', `The model \`${shown}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model');
      }
      void reply.send(entry);
    });
    if (o.root) {
      done();
      return;
    }
    // Any other /v1 path or method: OpenAI's 404, not fastify's (and not the UI's).
    const notFound = (req: FastifyRequest): never => {
      const path = (req.url.split('?')[0] ?? '').slice(0, 200);
      throw new ProxyError(404, 'unknown_url', `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error');
    };
    app.all('/*', notFound);
    app.setNotFoundHandler(notFound);
    done();
  };
}
