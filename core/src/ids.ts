// Request ids are UUIDv7: time-ordered, so ids sort with started_at and index well.
// Random bytes come from a pooled buffer: one getrandom() call per 256 ids instead of per id
// (uuid's default RNG costs more than the rest of id generation on the hot path).
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

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
