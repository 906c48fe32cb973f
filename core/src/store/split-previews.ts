// Prompt previews of split bodies (blocks.ts). PREVIEW_SQL reads the user's words from the
// stored request_body in ClickHouse, but a split body's stored text is a skeleton (its large
// pieces are in llm_blocks), not JSON. For those rows of a page, the blocks are loaded in one
// batched read (shared by every body of the page, and cached across pages: a session's calls
// share most of their blocks), each body is put back together and the same preview is taken
// in JS. Bounded: only the rows of the page, and no body over PREVIEW_MAX_BODY_BYTES.
import type { Store } from './client.ts';
import { BlockCache, loadBlocks, partsOf, reconstruct } from './blocks.ts';

/** Split bodies larger than this (as received) keep the empty preview: a page never rebuilds more. */
export const PREVIEW_MAX_BODY_BYTES = 8 << 20;

/**
 * Blocks recently read for previews (paging through one session's calls rereads the same
 * blocks). Dropped after CACHE_TTL_MS so an erased body does not outlive its erasure here.
 */
const CACHE_TTL_MS = 60_000;
let cache = new BlockCache(32 << 20);
let cacheBorn = Date.now();
function blockCache(): BlockCache {
  if (Date.now() - cacheBorn > CACHE_TTL_MS) {
    cache = new BlockCache(32 << 20);
    cacheBorn = Date.now();
  }
  return cache;
}

/** What SQL selects beside a row for splitPreviews: the skeleton and parts of split bodies only. */
export const SPLIT_COLUMNS_SQL = `if(empty(request_parts), '', request_body) AS split_skeleton, request_parts AS split_parts, request_bytes AS split_bytes`;

export interface SplitRow {
  request_id: string;
  split_skeleton?: string | undefined;
  split_parts?: unknown;
  split_bytes?: number | string | undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The text of a message's `content`: the string itself, else its first part's `text`, else that part's string `content` (as PREVIEW_SQL). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  const first: unknown = Array.isArray(content) ? content[0] : undefined;
  if (!isObj(first)) return '';
  if (typeof first['text'] === 'string') return first['text'];
  return typeof first['content'] === 'string' ? first['content'] : '';
}

/**
 * PREVIEW_SQL in JS: the last user message of a chat/messages request, else a string
 * `prompt`, else a string `input`; '' when the body is not a JSON object.
 */
export function previewOfBody(body: string, chars = 200): string {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return '';
  }
  if (!isObj(j)) return '';
  const users = Array.isArray(j['messages']) ? j['messages'].filter((m) => isObj(m) && m['role'] === 'user') : [];
  const text = users.length ? contentText((users[users.length - 1] as Record<string, unknown>)['content'])
    : typeof j['prompt'] === 'string' ? j['prompt']
    : typeof j['input'] === 'string' ? j['input']
    : '';
  return [...text].slice(0, chars).join('');
}

export interface SplitPreview {
  /** The user's words (as PREVIEW_SQL), '' when none are found. */
  preview: string;
  /** The whole body's first `chars` characters (what `substring(request_body, 1, chars)` reads of a body kept whole). */
  prefix: string;
}

/**
 * Previews of the split rows among `rows` (by request id), from their bodies put back
 * together: one batched block read for the page. Rows that are not split are absent.
 */
export async function splitPreviews(store: Pick<Store, 'client' | 'reader' | 'database'>, rows: readonly SplitRow[], chars = 200): Promise<Map<string, SplitPreview>> {
  const todo = rows
    .map((r) => ({ id: r.request_id, skeleton: r.split_skeleton ?? '', parts: partsOf(r.split_parts), bytes: Number(r.split_bytes ?? 0) }))
    .filter((r) => r.parts.length > 0 && r.bytes <= PREVIEW_MAX_BODY_BYTES);
  const out = new Map<string, SplitPreview>();
  if (todo.length === 0) return out;
  const blocks = await loadBlocks(store, todo.flatMap((r) => r.parts.map((p) => p.hash)), blockCache());
  for (const r of todo) {
    const body = reconstruct(r.skeleton, r.parts, blocks);
    out.set(r.id, { preview: previewOfBody(body, chars), prefix: body.slice(0, chars) });
  }
  return out;
}

/** Erasure: forget cached block bodies now. */
export const clearPreviewCache = (): void => cache.clear();
