// Where the distributed proxy keeps its spool under a data dir, named once: the proxy writes and
// relays it (proxy/src/publish), and erasure and retention (store/erasure-files.ts) must scrub
// the very segments it writes — the spool's records wait there, bodies and all, until Kafka has
// them.
import { join } from 'node:path';

/** The spool's directory under a data dir. */
export const spoolDirOf = (dataDir: string): string => join(dataDir, 'spool');
/** The spool's log segments. */
export const spoolLogDir = (spoolDir: string): string => join(spoolDir, 'log');
/** The relay's committed offset: everything before it is in Kafka. */
export const relayOffsetPath = (spoolDir: string): string => join(spoolDir, 'relay.offset');
