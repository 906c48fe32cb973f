// The compare view's pure parts: a call's output as plain text (assistant text, tool calls as
// their JSON) and a word diff of two outputs (the `diff` package).
import { diffWordsWithSpace } from 'diff';
import { responseMessages } from '#lib/bodies.ts';

/** The answer's text as a person reads it; the raw body when its shape is not recognised. */
export function outputText(responseBody: string): string {
  const msgs = responseMessages(responseBody);
  if (!msgs) return responseBody;
  return msgs
    .map((m) => m.parts.map((p) => (p.kind === 'text' ? p.text : p.kind === 'data' ? `[${p.label}]\n${p.text}` : `[${p.label}]`)).join('\n'))
    .join('\n\n');
}

export interface DiffPart {
  text: string;
  /** `same`: in both; `removed`: only in the original; `added`: only in the replay. */
  op: 'same' | 'added' | 'removed';
}

/** Word-level diff from `a` (original) to `b` (replay); bounded so a huge answer cannot stall a page. */
export function diffOutputs(a: string, b: string, maxChars = 200_000): DiffPart[] | null {
  if (a.length + b.length > maxChars) return null;
  return diffWordsWithSpace(a, b).map((c) => ({ text: c.value, op: c.added ? 'added' : c.removed ? 'removed' : 'same' }));
}
