// Feedback on the request page and in the explorer (core/src/store/feedback.ts): who may mark a
// call, the call's feedback as a person sees it (a comment is a person's words about the call:
// hidden, as bodies are, from a role without bodies.read), and a page's summaries.
import { can, type Principal } from '@gatelog/core/roles';
import { feedbackForCall, feedbackSummaries, type FeedbackRow, type FeedbackSummary, type ScoredCall } from '@gatelog/core/store/feedback';
import type { Store } from '@gatelog/core';
import { HIDDEN, mayReadBodies } from '#lib/server/permissions.server.ts';

export const mayGiveFeedback = (p: Principal | undefined): boolean => p !== undefined && can(p.role, 'calls.feedback');

export async function feedbackView(store: Store, call: ScoredCall, p: Principal | undefined): Promise<FeedbackRow[]> {
  const rows = await feedbackForCall(store, call);
  return mayReadBodies(p) ? rows : rows.map((r) => ({ ...r, comment: r.comment && HIDDEN, metadata: {} }));
}

/** The rows with their feedback in brief (null without any). */
export async function withFeedback<R extends ScoredCall>(store: Store, rows: R[]): Promise<(R & { feedback: FeedbackSummary | null })[]> {
  const sums = await feedbackSummaries(store, rows);
  return rows.map((r) => ({ ...r, feedback: sums.get(r.request_id) ?? null }));
}
