// Token estimates for calls whose upstream reported no usage, bounded so that no tenant's input
// can stall or crash the process: gpt-tokenizer runs in one worker thread (piscina), never on
// the event loop; a text above MAX_TOKENIZE_BYTES, a full queue, a worker slower than
// ESTIMATE_WAIT_MS or a failing one degrade to a byte-based estimate (BYTES_PER_TOKEN).
// Either way the call is flagged tokens_estimated.
import { Piscina } from 'piscina';

/** Texts larger than this are not tokenized: estimated from their UTF-8 size instead. */
export const MAX_TOKENIZE_BYTES = 512 * 1024;
/** The byte-based estimate: about 4 bytes a token for English text and code (OpenAI's rule of thumb). */
export const BYTES_PER_TOKEN = 4;
/** Tasks waiting for the worker beyond which estimates are byte-based (no unbounded backlog). */
const MAX_QUEUE = 256;
/** Longest a caller waits for the worker (busy, or loading its tables on a starved machine) before taking the byte-based estimate. */
export const ESTIMATE_WAIT_MS = 5000;

export const byteEstimate = (text: string): number => Math.ceil(Buffer.byteLength(text) / BYTES_PER_TOKEN);

let warm = false;
let pool: Piscina<string[], number[]> | null = null;
function poolOf(): Piscina<string[], number[]> {
  // One thread: estimates are background work, and the proxy's own thread needs the other core.
  pool ??= new Piscina<string[], number[]>({
    filename: new URL('./token-worker.ts', import.meta.url).href,
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 60_000,
    maxQueue: MAX_QUEUE,
  });
  return pool;
}

/** Token counts of `texts` (same order), tokenizer where bounded, bytes otherwise. Never rejects. */
export async function countTokens(texts: readonly string[]): Promise<number[]> {
  const out = texts.map((t): number => (t.length === 0 ? 0 : -1));
  const work: string[] = [];
  const at: number[] = [];
  texts.forEach((t, i) => {
    if (out[i] === 0) return;
    // Length in UTF-16 units first: a cheap bound before measuring bytes of a huge string.
    if (t.length > MAX_TOKENIZE_BYTES || Buffer.byteLength(t) > MAX_TOKENIZE_BYTES) out[i] = byteEstimate(t);
    else {
      work.push(t);
      at.push(i);
    }
  });
  if (work.length > 0) {
    let counted: number[] | null = null;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ESTIMATE_WAIT_MS);
      timer.unref();
    });
    try {
      const run = poolOf().run(work);
      run.then(() => (warm = true), () => undefined);
      counted = await Promise.race([run, late]);
    } catch {
      // Queue full or the worker failed: the byte estimate below.
    } finally {
      clearTimeout(timer);
    }
    at.forEach((i, k) => (out[i] = counted?.[k] ?? byteEstimate(work[k]!)));
  }
  return out;
}

/** Whether the worker has answered once (its tokenizer is loaded, so estimates take milliseconds). */
export const tokenizerWarm = (): boolean => warm;

let warming = false;
/**
 * Start the worker and load its tables in the background (seconds of CPU on a busy machine,
 * never on the event loop), so the first estimate a call needs does not wait for them.
 * Idempotent; the relay calls it on its first call.
 */
export function warmTokenizer(): void {
  if (warming) return;
  warming = true;
  void countTokens(['warm']);
}

/** Stop the worker (tests; the idle worker never holds the process open). */
export async function closeTokenizer(): Promise<void> {
  const p = pool;
  pool = null;
  warm = false;
  warming = false;
  await p?.destroy();
}
