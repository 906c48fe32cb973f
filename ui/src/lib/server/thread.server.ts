// Loads a trace or a session: every call sharing the id, oldest first, with totals.
import { error } from '@sveltejs/kit';
import { callsInThread, type ThreadCall } from '@gatelog/core/store/explorer-queries';
import { uiContext } from '#lib/server/context.server.ts';
import { withPreviews } from '#lib/server/calls.server.ts';

export interface Thread {
  by: 'trace' | 'session';
  id: string;
  calls: ThreadCall[];
  totals: { calls: number; costUsd: number | null; errors: number; spanMs: number; sumLatencyMs: number };
}

export async function loadThread(by: 'trace' | 'session', id: string): Promise<Thread> {
  if (!id || id.length > 200) error(404, `No ${by} with this id.`);
  const { store } = await uiContext();
  let calls: ThreadCall[];
  try {
    calls = await withPreviews(store, await callsInThread(store, by, id));
  } catch (err) {
    console.error(`gatelog ui: reading a ${by} failed`, err);
    error(503, 'The request log is not available right now.');
  }
  if (calls.length === 0) error(404, `No ${by} with this id.`);
  const t0 = Date.parse(calls[0]!.started_at);
  const end = Math.max(...calls.map((c) => Date.parse(c.started_at) + c.latency_ms));
  const priced = calls.filter((c) => c.cost_usd !== null);
  return {
    by,
    id,
    calls,
    totals: {
      calls: calls.length,
      costUsd: priced.length ? priced.reduce((s, c) => s + (c.cost_usd ?? 0), 0) : null,
      errors: calls.filter((c) => c.status >= 400 || c.outcome === 'error').length,
      spanMs: end - t0,
      sumLatencyMs: calls.reduce((s, c) => s + c.latency_ms, 0),
    },
  };
}
