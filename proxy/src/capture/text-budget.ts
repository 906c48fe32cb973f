// Generated text a stream's assembler keeps, for the record and the token estimate. Past
// MAX_KEPT_TEXT_CHARS a response's text is counted (its UTF-8 bytes) but no longer kept: the
// stored body is capped below that anyway (logging.body_cap_bytes, 256 KiB by default,
// flagged truncated), and the dropped part is estimated from its size. This bounds the memory
// and the end-of-stream work of one call however much an upstream sends.
export const MAX_KEPT_TEXT_CHARS = 1024 * 1024;

export class TextBudget {
  #left: number;
  /** UTF-8 bytes of generated text received but not kept. */
  droppedBytes = 0;

  constructor(max = MAX_KEPT_TEXT_CHARS) {
    this.#left = max;
  }

  /** The part of `s` to keep (all of it while the budget lasts). */
  keep(s: string): string {
    if (s.length <= this.#left) {
      this.#left -= s.length;
      return s;
    }
    const kept = s.slice(0, this.#left);
    this.#left = 0;
    this.droppedBytes += Buffer.byteLength(s) - Buffer.byteLength(kept);
    return kept;
  }
}
