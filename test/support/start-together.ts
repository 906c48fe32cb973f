// Starts a test's browser, gatelog processes and servers at once, as `Promise.all` would, but
// never leaves one running with no handle on it: if any start fails, the ones that did start
// are stopped here, since their variables were never assigned and afterAll cannot stop them.

/** One thing being started, and how to stop it once started (none: the caller stops it). */
export type Start<T> = readonly [starting: PromiseLike<T>, stop?: (started: T) => unknown];

/**
 * Waits for every start to settle. All fulfilled: their values, in order. Any rejected: stops
 * every one that fulfilled (waiting for each, ignoring their errors), then throws the first of their failures (in the order given).
 */
export async function startTogether<T extends unknown[]>(...starts: { [K in keyof T]: Start<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(starts.map(([starting]) => starting));
  const failed = settled.find((s) => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
  await Promise.all(settled.map(async (s, i) => {
    if (s.status !== 'fulfilled') return;
    try {
      await starts[i]![1]?.(s.value);
    } catch {
      // The failed start is what the test reports, not a stop that failed in its wake.
    }
  }));
  throw failed.reason;
}
