// Request ids are UUIDv7: time-ordered, so ids sort with started_at and index well.
import { v7 } from 'uuid';

export function newRequestId(): string {
  return v7();
}
