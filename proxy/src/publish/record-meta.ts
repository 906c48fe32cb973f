// What the relay reads from a spool record without parsing it: the request id (the Kafka key)
// and the event's schema version (a record header), from the record's first bytes.

export const SCHEMA_VERSION_HEADER = 'gatelog-schema-version';

const HEAD = 512;
const ID_FIELD = Buffer.from('"request_id":"');
const VERSION_FIELD = Buffer.from('"schema_version":');

function versionOf(head: Buffer): string {
  const at = head.indexOf(VERSION_FIELD);
  if (at < 0) return '0';
  const from = at + VERSION_FIELD.length;
  let to = from;
  while (to < head.length && to - from < 6 && head[to]! >= 0x30 && head[to]! <= 0x39) to++;
  return to > from ? head.toString('latin1', from, to) : '0';
}

/**
 * Key (the request id) and schema version from the record's first bytes: the relay never
 * re-parses whole bodies. The key is a view of the request id's bytes in the record.
 */
export function recordMeta(record: Buffer): { key: Buffer | undefined; version: string } {
  const head = record.length > HEAD ? record.subarray(0, HEAD) : record;
  const at = head.indexOf(ID_FIELD);
  let key: Buffer | undefined;
  if (at >= 0) {
    const from = at + ID_FIELD.length;
    const to = head.indexOf(0x22 /* " */, from);
    if (to > from && to - from <= 64) key = record.subarray(from, to);
  }
  return { key, version: versionOf(head) };
}
