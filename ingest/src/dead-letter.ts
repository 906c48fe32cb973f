// Dead-letter file: one JSON line per record ClickHouse rejected, with the reason and the raw
// record, so an operator can fix and replay it. Written and fsynced before the log offset moves
// past the record, so a rejected record is never lost from both places.
import { isUtf8 } from 'node:buffer';
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DeadLetter {
  record: Buffer;
  /** ClickHouse error code and name, or our own code for records refused before insert. */
  reason: { code: string; type: string; message: string };
}

export function writeDeadLetters(path: string, letters: readonly DeadLetter[], now: Date = new Date()): void {
  if (letters.length === 0) return;
  const lines = letters.map((l) => {
    const raw = isUtf8(l.record) ? { record: l.record.toString('utf8') } : { record_base64: l.record.toString('base64') };
    return JSON.stringify({ at: now.toISOString(), table: 'llm_calls', reason: l.reason, ...raw });
  });
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, `${lines.join('\n')}\n`);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
