// Runs in a worker thread of the token-estimate pool (see token-estimate.ts): gpt-tokenizer's
// tables load here, and its CPU is spent here, never on the proxy's event loop.
// gpt-tokenizer's merge step is roughly quadratic in the length of one pre-token (a long run
// without whitespace is one), so such runs are counted in pieces: linear time, a few tokens
// more at the cuts, which an estimate can afford.
import { countTokens } from 'gpt-tokenizer';

/** Pieces a long whitespace-free run is cut into before counting. */
export const RUN_PIECE = 64;
const LONG_RUN = new RegExp(`\\S{${RUN_PIECE + 1},}`, 'g');

export function countLinear(text: string): number {
  let n = 0;
  let last = 0;
  for (const m of text.matchAll(LONG_RUN)) {
    if (m.index > last) n += countTokens(text.slice(last, m.index));
    const run = m[0];
    for (let i = 0; i < run.length; i += RUN_PIECE) n += countTokens(run.slice(i, i + RUN_PIECE));
    last = m.index + run.length;
  }
  if (last < text.length) n += countTokens(text.slice(last));
  return n;
}

/** The pool's task: token counts of several texts. */
export default function count(texts: string[]): number[] {
  return texts.map(countLinear);
}
