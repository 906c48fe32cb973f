// Query-string mistakes on UI pages and exports answer 400 with the message naming the
// parameter (core/src/store/read-params.ts), never a 500/503 or a database message; a read
// that ran out of time (core/src/store/read-query.ts) answers 503 saying so.
import { error } from '@sveltejs/kit';
import { ReadParamError } from '@gatelog/core/store/read-params';
import { QueryTimeoutError } from '@gatelog/core/store/read-query';

/** `read()`'s value; a ReadParamError it throws becomes a 400 page. */
export function readOr400<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ReadParamError) error(400, err.message);
    throw err;
  }
}

/** For a load's catch: a bad parameter the store found is a 400, a read out of time a 503 saying so; anything else returns. */
export function rethrowKnown(err: unknown): void {
  if (err instanceof ReadParamError) error(400, err.message);
  if (err instanceof QueryTimeoutError) error(503, err.message);
}
