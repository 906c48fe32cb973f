// Compare a call with one of its replays side by side: output (with a word diff), tokens, cost,
// latency. `?with=<request id>` picks the replay; without it, the newest one. Both bodies are
// shown, so both views are audited, and the page needs bodies.read.
import { error } from '@sveltejs/kit';
import { replaysOf } from '@gatelog/core/store/replay-queries';
import type { CallDetail } from '@gatelog/core/store/queries';
import { isRequestId } from '#lib/filters.ts';
import { diffOutputs, outputText } from '#lib/compare.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { mayReadBodies, visible } from '#lib/server/permissions.server.ts';
import { callFor, mayReplay } from '#lib/server/replay.server.ts';
import { getDetail } from '#lib/server/calls.server.ts';
import type { PageServerLoad } from './$types';

/** What one side of the comparison shows. */
function side(c: CallDetail) {
  return {
    request_id: c.request_id,
    started_at: c.started_at,
    requested_model: c.requested_model,
    provider: c.provider,
    upstream_model: c.upstream_model,
    status: c.status,
    outcome: c.outcome,
    error_message: c.error_message,
    input_tokens: c.input_tokens,
    output_tokens: c.output_tokens,
    tokens_estimated: c.tokens_estimated,
    cost_usd: c.cost_usd,
    latency_ms: c.latency_ms,
    ttft_ms: c.ttft_ms,
    stream: c.stream,
    replay_of: c.replay_of,
    output: outputText(c.response_body),
  };
}

export const load: PageServerLoad = async (event) => {
  const p = event.locals.principal;
  if (!mayReadBodies(p)) error(403, 'Comparing answers shows their bodies, which your role may not read.');
  const original = await callFor(event, event.params.id);
  const { store } = await uiContext();
  let replays;
  try {
    replays = (await replaysOf(store, original.request_id)).filter((r) => visible(p, r.team));
  } catch (err) {
    console.error('gatelog ui: listing replays failed', err);
    error(503, 'The request log is not available right now.');
  }
  const wanted = event.url.searchParams.get('with') ?? replays[0]?.request_id ?? '';
  if (wanted && !isRequestId(wanted)) error(400, 'The replay id is malformed.');
  const other = wanted ? await getDetail(store, wanted).catch(() => null) : null;
  const shown = other && visible(p, other.team) ? other : null;
  for (const c of [original, ...(shown ? [shown] : [])]) {
    await recordAudit(event, { action: 'call.view', targetType: 'call', target: c.request_id, details: { via: 'ui', page: 'compare' } });
  }
  const a = side(original);
  const b = shown ? side(shown) : null;
  return {
    a,
    b,
    // The replay was just made: its record may still be on its way to the store.
    pending: !!wanted && !shown,
    wanted,
    diff: b ? diffOutputs(a.output, b.output) : null,
    replays,
    mayReplay: mayReplay(p) && !!p,
  };
};
