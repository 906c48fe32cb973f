// The local event log's format on disk, shared by its writer (local-log.ts) and its reader
// (local-log-reader.ts): segment files named by the global offset of their first byte, holding
// records framed as u32 payload length | u32 CRC-32 of payload | payload.
import { readdirSync } from 'node:fs';

/** Framing of one record on disk (u32 length + u32 CRC) before its payload. */
export const RECORD_HEADER_BYTES = 8;
/** A length above this is not a record (corruption, or bytes that are not a record header). */
export const MAX_RECORD = 64 * 1024 * 1024;
const SEGMENT_RE = /^(\d{20})\.log$/;

export function logError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.log`;
}

export function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => SEGMENT_RE.exec(n)?.[1])
    .filter((b): b is string => b !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
