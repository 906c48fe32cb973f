// V8 heap settings for gatelog's long-running processes. Each entry point (`gatelog start`, the
// proxy and ingest services) imports this module first, so the settings apply before any other
// module is loaded and before any allocation site has collected feedback.
//
// Allocation-site pretenuring off. V8 tracks how many objects from each allocation site survive
// young-generation GCs and, past a threshold, allocates that site's objects straight into the
// old generation. In a process that has loaded libraries which build many long-lived objects at
// load time (zod 4 or kafkajs is enough), that feedback goes wrong for a request path: one
// fastify + undici request per call kept ~3.5–4 MB alive through every scavenge instead of
// ~0.4 MB (6 ms pauses instead of 2.5, ~15% fewer calls per second). On gatelog's full proxy
// path the gain was small (174–181 → 170 µs of CPU per call in a same-sitting A/B) because
// another ~10 MB per scavenge dominated there: a closure undici created per request in the old
// generation, since patched (patches/undici@8.12.4.patch; BENCHMARKS.md, "Fifth round" and
// "Sixth round", have the measurements). Objects that do live long (caches, key rings) are copied once more on their
// way to the old generation; nothing else changes.
import { setFlagsFromString } from 'node:v8';

export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

for (const flag of V8_FLAGS) setFlagsFromString(flag);
