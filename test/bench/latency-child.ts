// Child process of `pnpm bench`: the one-connection latency samples, taken in a process of
// their own pinned to the load core, as autocannon's runs are (cannon-child.ts). In the bench
// process they shared a heap with everything the bench keeps, and its garbage collector's
// helper threads, on the load core with the mock upstream, stalled calls now and then: the
// direct calls' own p99 read 1.5 ms, more than the passthrough's. Reads its settings as JSON
// from the file argv[2] names, writes each target's samples to `out` and prints {"latency":"written"}.
import { readFileSync, writeFileSync } from 'node:fs';
import { measureInterleavedLatency, measureLatency, type BlockTiming, type LatencyResult, type LoadTarget } from './load.ts';

export interface WireTarget {
  name: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** The plain (non-streamed) request body, base64. */
  body: string;
}

export interface LatencySettings {
  /** One target: measureLatency. Several: measured in interleaved blocks (measureInterleavedLatency). */
  targets: WireTarget[];
  n: number;
  warmup: number;
  /** Interleaved blocks' lead-in and gap (load.ts BlockTiming); absent = none. */
  timing?: BlockTiming;
  out: string;
}

export type WireLatency = Omit<LatencyResult, 'samples'> & { samples: number[] };

const toTarget = (w: WireTarget): LoadTarget => {
  const body = Buffer.from(w.body, 'base64');
  return { name: w.name, origin: w.origin, path: w.path, headers: w.headers, body: () => body };
};
const wire = (r: LatencyResult): WireLatency => ({ ...r, samples: Array.from(r.samples) });

const s = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LatencySettings;
const targets = s.targets.map(toTarget);
const results = targets.length === 1 ? [await measureLatency(targets[0]!, s.n, s.warmup)] : await measureInterleavedLatency(targets, s.n, s.warmup, undefined, s.timing);
writeFileSync(s.out, JSON.stringify(results.map(wire)));
process.stdout.write('{"latency":"written"}\n');
process.exit(0);
