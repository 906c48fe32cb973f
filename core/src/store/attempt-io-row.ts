// llm_calls.attempt_io as readers get it back (migration 0013; the event's AttemptIo): one
// element per attempt. Shared by the call detail read (queries.ts) and exports.
import { z } from 'zod';
import { Num } from './row-types.ts';

export const AttemptIoRow = z.object({
  provider_request_id: z.string(),
  request_same: z.boolean(),
  request_body: z.string(),
  request_parts: z.array(z.object({ at: Num, hash: z.string() })),
  request_bytes: Num,
  request_sha256: z.string(),
  response_same: z.boolean(),
  response_body: z.string(),
  response_bytes: Num,
  response_sha256: z.string(),
  truncated: z.boolean(),
});
export type AttemptIoRow = z.infer<typeof AttemptIoRow>;
