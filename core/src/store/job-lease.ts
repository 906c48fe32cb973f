// Once-only jobs among several instances on one store (scheduled exports in distributed mode,
// where every proxy runs the schedules): each instance claims a job every time it looks at it,
// and the job belongs to the instance with the earliest claim among those that claimed within
// LEASE_LIVE_MS (ClickHouse's clock, then the holder name as tie-break). The owner keeps
// claiming while it works (`holdJob`); one that crashed falls silent, and after LEASE_LIVE_MS
// the next earliest live claimant takes the job over. Every value is a bound parameter.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from './client.ts';

export const LEASE_LIVE_MS = 120_000;

async function claim(store: Store, job: string, holder: string): Promise<void> {
  await store.client.command({
    query: `INSERT INTO ${store.database}.job_lease (job, holder) VALUES ({job:String}, {holder:String})`,
    query_params: { job, holder },
  });
}

/**
 * Claims `job` for `holder`; true when `holder` is the one to run it now. `settleMs`: how long to
 * wait before asking, so that a claim ClickHouse started just before ours but had not finished
 * writing is seen (where a wrong answer costs more than the wait: a mutual exclusion).
 */
export async function claimJob(store: Store, job: string, holder: string, liveMs = LEASE_LIVE_MS, settleMs = 0): Promise<boolean> {
  await claim(store, job, holder);
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  return (await jobHolder(store, job, liveMs)) === holder;
}

/** Who runs `job` now (the earliest live claimant), without claiming it; null when nobody does. */
export async function jobHolder(store: Store, job: string, liveMs = LEASE_LIVE_MS): Promise<string | null> {
  const rs = await store.client.query({
    query: `SELECT holder FROM ${store.database}.job_lease WHERE job = {job:String}
            GROUP BY holder HAVING max(claimed_at) > now64(6) - toIntervalMillisecond({live:UInt32})
            ORDER BY min(claimed_at), holder LIMIT 1`,
    query_params: { job, live: liveMs },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ holder: string }>();
  return rows[0]?.holder ?? null;
}

/** Keeps claiming `job` every quarter of `liveMs` until the returned stop is called. */
export function holdJob(store: Store, job: string, holder: string, onError: (err: unknown) => void, liveMs = LEASE_LIVE_MS): () => void {
  const timer = setInterval(() => void claim(store, job, holder).catch(onError), Math.max(1, Math.floor(liveMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}

/** How long a turn lasts unless renewed (it is renewed every quarter of it while the change runs). */
export const TURN_LEASE_MS = 3_000;
/**
 * Wait between a claim and the read of who holds the turn: an insert's claim time is set when
 * ClickHouse starts it and the row is seen when it ends, so a claim made a moment earlier than
 * ours could still be unseen right after ours; this is far longer than such an insert takes.
 */
export const TURN_SETTLE_MS = 300;
/** How long a change waits for another's turn on the same thing before giving up. */
export const TURN_WAIT_MS = 20_000;

const localTurns = new Map<string, Promise<void>>();

/**
 * Runs `change` once every earlier change under `job` has ended: in this process, in memory; on a
 * ClickHouse server several processes share (`store.kind` http), also through the store (the
 * earliest live claimant of `job` holds the turn, renewing it while it works), so two proxies'
 * changes to one thing never interleave. `busy` is the error when the wait outlasts TURN_WAIT_MS.
 * `job` is written to job_lease: it must hold no personal data (hash it).
 */
export function inTurn<T>(store: Store, job: string, busy: () => Error, change: () => Promise<T>): Promise<T> {
  const run = (localTurns.get(job) ?? Promise.resolve()).then(() => (store.kind === 'http' ? acrossProcesses(store, job, busy, change) : change()));
  const tail = run.then(() => {}, () => {});
  localTurns.set(job, tail);
  void tail.then(() => {
    if (localTurns.get(job) === tail) localTurns.delete(job);
  });
  return run;
}

async function acrossProcesses<T>(store: Store, job: string, busy: () => Error, change: () => Promise<T>): Promise<T> {
  const holder = `${hostname()}/${process.pid}/${randomUUID()}`;
  const giveUp = Date.now() + TURN_WAIT_MS;
  while (!(await claimJob(store, job, holder, TURN_LEASE_MS, TURN_SETTLE_MS))) {
    if (Date.now() > giveUp) throw busy();
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
  }
  // A renewal that fails (ClickHouse unreachable) fails the change's own writes too.
  const stop = holdJob(store, job, holder, () => {}, TURN_LEASE_MS);
  try {
    return await change();
  } finally {
    stop();
  }
}
