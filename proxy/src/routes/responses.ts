// OpenAI Responses API: POST /v1/responses forwarded to the deployment (OpenAI-kind upstreams;
// others answer 400 unsupported_api before anything is sent), streamed or not, captured like
// chat — usage from the body or from the stream's response.completed event. The Responses API
// always reports usage, so the body is sent as the client wrote it (model aside).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';
import { relay, type RelayEnv } from '../relay.ts';
import { installApiSurface } from './surface.ts';
import { forwardBody, newCallRecord, parseJsonBody, requireModel, upstreamBodyFor } from './body.ts';
import type { AuthCheck } from '../auth.ts';
import type { ModelTable } from '../routing/resolve.ts';
import { admit, gateModel } from '../governance/admit.ts';
import { screenRequest } from './content-block.ts';
import type { Governance } from '../governance/runtime.ts';

export interface ResponsesRouteDeps {
  table: ModelTable;
  env: RelayEnv;
  auth: AuthCheck | null;
  gov?: Governance | undefined;
}

const PATH = '/responses';

export function responsesRoutes(deps: ResponsesRouteDeps) {
  const { table, env, auth, gov } = deps;

  async function forward(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = req.body as Buffer;
    const { text, json, bytes, pieces } = parseJsonBody(raw);
    const requested = requireModel(json);
    if (json['input'] === undefined && json['previous_response_id'] === undefined && json['prompt'] === undefined) {
      throw badRequest('missing_input', 'You must provide an `input` parameter.', 'input');
    }
    // The allow-list first: nothing is kept for a model name the key may not use.
    if (gov) gateModel(gov, env, req, reply, requested, () => newCallRecord(req, { endpoint: `/v1${PATH}`, api: 'openai.responses', requested, dep: null, stream: json['stream'] === true, text, json }));
    const plan = table.plan(requested, req.headers);
    const dep = { provider: plan.first.state.provider, model: plan.first.state.model };
    const stream = json['stream'] === true;
    const upstreamBody = upstreamBodyFor(raw, text, json, requested, dep, pieces);
    const rec = newCallRecord(req, { endpoint: `/v1${PATH}`, api: 'openai.responses', requested, dep, stream, text, json, bytes, pieces });
    screenRequest(env, gov, req, rec);
    if (gov && !(await admit(gov, env, req, reply, rec, json, { includeUsage: false }))) return;
    const fwd = forwardBody(env, rec, upstreamBody, json);
    await relay(env, reply, { rec, provider: dep.provider, route: `/v1${PATH}`, upstreamBody: fwd.body, json: fwd.json, derived: fwd.derived, set: fwd.set, bytes: fwd.bytes, dropUsageChunk: false, plan });
  }

  return function plugin(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    installApiSurface(app, { env, auth, callerOf: gov?.auth.callerOf });
    app.post(PATH, { config: { modelApi: 'openai.responses' } }, forward);
    done();
  };
}
