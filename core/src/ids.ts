// Request ids are UUIDv7: time-ordered, so ids sort with started_at and index well.
// Random bytes come from a pooled buffer: one getrandom() call per 256 ids instead of per id
// (uuid's default RNG costs more than the rest of id generation on the hot path).
import { randomFillSync } from 'node:crypto';
import { v5, v7 } from 'uuid';

const POOL_IDS = 256;
const pool = Buffer.allocUnsafe(16 * POOL_IDS);
let next = POOL_IDS;

export function newRequestId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = 16 * next++;
  return v7({ random: pool.subarray(start, start + 16) });
}

/** The namespace of batch line ids (a fixed random UUID: ids of other origins never collide with them). */
const BATCH_LINE_NAMESPACE = '6f1d7c52-3a8e-4b0f-9c2d-5e7a1b3c9d40';

/**
 * The request id of one line of an OpenAI batch job recorded as a call: derived from the batch
 * id and the line's custom_id (UUIDv5), so every process that records the batch, at any time,
 * names the call alike and the store keeps it once.
 */
export function batchLineRequestId(batchId: string, customId: string): string {
  return v5(`${batchId}\n${customId}`, BATCH_LINE_NAMESPACE);
}
