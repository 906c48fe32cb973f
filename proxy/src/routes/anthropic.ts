// Anthropic-compatible surface: POST /v1/messages and /v1/messages/count_tokens, so the
// Anthropic SDKs and Claude Code work with ANTHROPIC_BASE_URL pointing here. The deployment's
// adapter either passes the call through (anthropic kind: bytes, anthropic-version and
// anthropic-beta preserved) or translates it (OpenAI-format kinds). The gatelog key arrives in
// `x-api-key` or `Authorization: Bearer` and is never forwarded. Errors use Anthropic's shape.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProxyError, badRequest } from '../errors.ts';
import { relay, type RelayEnv } from '../relay.ts';
import { installApiSurface, type ErrorShape } from './surface.ts';
import type { ShownError } from './error-record.ts';
import { forwardBody, newCallRecord, parseJsonBody, requireModel, upstreamBodyFor } from './body.ts';
import type { AuthCheck } from '../auth.ts';
import type { Deployment, ModelTable } from '../routing/resolve.ts';
import type { AttemptPlan } from '../routing/plan.ts';
import type { Provider, UpstreamApi } from '../providers/types.ts';
import { admit, gateModel } from '../governance/admit.ts';
import { screenRequest } from './content-block.ts';
import { anthropicStreamError } from '../routing/stream-error.ts';
import type { Governance } from '../governance/runtime.ts';

export interface AnthropicRouteDeps {
  table: ModelTable;
  env: RelayEnv;
  auth: AuthCheck | null;
  gov?: Governance | undefined;
  /**
   * Where a model name that is neither an alias nor provider/model goes: the first `anthropic`
   * provider, so Claude Code's bare model ids (claude-sonnet-4-5, ...) work without aliases.
   */
  defaultAnthropic: Provider | undefined;
}

function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** The error as Anthropic clients read it: its type, and the field at fault named in the message. */
function anthropicShown(e: ProxyError): ShownError {
  const where = e.param ? `${e.param}: ` : '';
  return { type: anthropicErrorType(e.status), message: `${where}${e.message}` };
}

/** `{"type":"error","error":{"type","message"}}`. */
export function anthropicErrorBody(e: ProxyError): string {
  return JSON.stringify({ type: 'error', error: anthropicShown(e) });
}

const ANTHROPIC_ERRORS: ErrorShape = { body: anthropicErrorBody, shown: anthropicShown };

/** Client headers Anthropic upstreams need; credentials are deliberately not among them. */
function forwardedHeaders(req: FastifyRequest): Record<string, string> | undefined {
  const version = req.headers['anthropic-version'];
  const beta = req.headers['anthropic-beta'];
  if (typeof version !== 'string' && beta === undefined) return undefined;
  const h: Record<string, string> = {};
  if (typeof version === 'string') h['anthropic-version'] = version;
  if (beta !== undefined) h['anthropic-beta'] = Array.isArray(beta) ? beta.join(',') : beta;
  return h;
}

function validateMessages(json: Record<string, unknown>, counting: boolean): void {
  const messages = json['messages'];
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest('invalid_messages', '`messages` must be a non-empty array.', 'messages');
  if (counting) return;
  const max = json['max_tokens'];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw badRequest('invalid_max_tokens', '`max_tokens` is required and must be a positive integer.', 'max_tokens');
}

export function anthropicRoutes(deps: AnthropicRouteDeps) {
  const { table, env, auth, gov, defaultAnthropic } = deps;

  /** The attempt plan (retries, fallbacks), or the default anthropic provider for a bare model id. */
  const route = (requested: string, req: FastifyRequest): { dep: Deployment; plan: AttemptPlan | null } => {
    try {
      const plan = table.plan(requested, req.headers);
      return { dep: { provider: plan.first.state.provider, model: plan.first.state.model }, plan };
    } catch (err) {
      if (defaultAnthropic && err instanceof ProxyError && err.status === 404 && !requested.includes('/')) return { dep: { provider: defaultAnthropic, model: requested }, plan: null };
      throw err;
    }
  };

  const handler = (path: string, api: UpstreamApi) =>
    async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
      const raw = req.body as Buffer;
      const { text, json, bytes, pieces } = parseJsonBody(raw);
      const requested = requireModel(json);
      const counting = api === 'anthropic.count_tokens';
      validateMessages(json, counting);
      // The allow-list first: nothing is kept for a model name the key may not use.
      if (gov) gateModel(gov, env, req, reply, requested, () => newCallRecord(req, { endpoint: `/v1${path}`, api, requested, dep: null, stream: !counting && json['stream'] === true, text, json }));
      const { dep, plan } = route(requested, req);
      const stream = !counting && json['stream'] === true;
      const upstreamBody = upstreamBodyFor(raw, text, json, requested, dep, pieces);
      const rec = newCallRecord(req, { endpoint: `/v1${path}`, api, requested, dep, stream, text, json, bytes, pieces });
      // Counting is a model-facing call like any other: allow-list, rate limits and budget
      // apply, and it is recorded once. It produces no output, so none is reserved for it.
      const admitted = counting ? { ...json, max_tokens: 0 } : json;
      screenRequest(env, gov, req, rec);
      if (gov && !(await admit(gov, env, req, reply, rec, admitted, { includeUsage: false }))) return;
      const headers = forwardedHeaders(req);
      const fwd = forwardBody(env, rec, upstreamBody, json);
      await relay(env, reply, {
        rec, provider: dep.provider, route: `/v1${path}`, upstreamBody: fwd.body, json: fwd.json, derived: fwd.derived, set: fwd.set, bytes: fwd.bytes, dropUsageChunk: false, streamError: anthropicStreamError, ...(plan ? { plan } : {}), ...(headers ? { headers } : {}),
      });
    };

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installApiSurface(app, { env, auth, callerOf: gov?.auth.callerOf, errors: ANTHROPIC_ERRORS });
    app.post('/messages', { config: { modelApi: 'anthropic.messages' } }, handler('/messages', 'anthropic.messages'));
    app.post('/messages/count_tokens', { config: { modelApi: 'anthropic.count_tokens' } }, handler('/messages/count_tokens', 'anthropic.count_tokens'));
    done();
  };
}
