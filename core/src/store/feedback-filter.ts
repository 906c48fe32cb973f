// The requests explorer's `feedback` filter (feedback.ts holds the rest of feedback): its
// values, and its condition over llm_calls. Pure, so the explorer's parameters can name it
// without pulling in the store.

export const FEEDBACK_FILTERS = ['positive', 'negative', 'any', 'none'] as const;
export type FeedbackFilter = (typeof FEEDBACK_FILTERS)[number];

/** SQL over llm_calls: whether a call has current feedback with a value matching `cond` (fixed SQL, no input). */
function hasFeedback(db: string, cond: string): string {
  const fb = `${db}.call_feedback FINAL`;
  return `((key_id, toString(request_id)) IN (SELECT key_id, request_id FROM ${fb} WHERE request_id != '' AND ${cond})
    OR (trace_id != '' AND (key_id, trace_id) IN (SELECT key_id, trace_id FROM ${fb} WHERE request_id = '' AND trace_id != '' AND ${cond})))`;
}

/** The explorer's `feedback` filter as a condition over llm_calls. */
export function feedbackFilterSql(db: string, f: FeedbackFilter): string {
  if (f === 'positive') return hasFeedback(db, 'value > 0');
  if (f === 'negative') return hasFeedback(db, 'value < 0');
  if (f === 'any') return hasFeedback(db, '1');
  return `NOT ${hasFeedback(db, '1')}`;
}
