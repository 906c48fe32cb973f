// One fetched Kafka batch (one partition), validated: the valid messages' original bytes ready
// to be JSONEachRow rows (events are serialized with the column names, so nothing is
// re-encoded), and the invalid ones as dead letters with their reason.
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { validateMessage } from './kafka-validate.ts';

export interface DeadLetterMessage {
  message: KafkaMessage;
  /** topic/partition/offset the message came from. */
  source: string;
  reason: { code: string; message: string };
}

export interface KafkaPart {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  /** Valid rows, in offset order, and the messages they came from (same index). */
  records: Buffer[];
  messages: KafkaMessage[];
  dead: DeadLetterMessage[];
  /** Messages refused before insert (in `dead`). */
  invalid: number;
  /** Valid rows and their bytes: what the insert queue sizes writes by. */
  rows: number;
  bytes: number;
}

/** What toParts reads of a fetched batch (kafkajs' Batch, or the part of one not queued yet). */
export type FetchedBatch = Pick<EachBatchPayload['batch'], 'topic' | 'partition' | 'messages' | 'firstOffset' | 'lastOffset'>;

/**
 * The messages of `batch` past `through` (the last offset already handed on), or null when
 * there are none: a batch fetched again after a rejoin overlaps what is already queued.
 */
export function pastOffset(batch: FetchedBatch, through: bigint): FetchedBatch | null {
  const messages = batch.messages.filter((m) => BigInt(m.offset) > through);
  if (messages.length === 0) return BigInt(batch.lastOffset()) > through ? { ...pick(batch), messages, firstOffset: () => null } : null;
  return { ...pick(batch), messages, firstOffset: () => messages[0]!.offset };
}

const pick = (b: FetchedBatch): Pick<FetchedBatch, 'topic' | 'partition' | 'lastOffset'> => ({ topic: b.topic, partition: b.partition, lastOffset: () => b.lastOffset() });

/**
 * One fetched batch as parts of at most `maxRows` valid rows each (ingest.batch_rows holds even
 * when one fetch brings more): each part covers a contiguous offset range, the last one up to
 * the batch's last offset, so committing past a part never skips an unwritten message.
 */
export function toParts(batch: FetchedBatch, maxRows = Number.MAX_SAFE_INTEGER): KafkaPart[] {
  const parts: KafkaPart[] = [];
  let cur: KafkaPart | undefined;
  const open = (firstOffset: string): KafkaPart => ({ topic: batch.topic, partition: batch.partition, firstOffset, lastOffset: firstOffset, records: [], messages: [], dead: [], invalid: 0, rows: 0, bytes: 0 });
  for (const m of batch.messages) {
    if (cur && cur.rows >= maxRows) {
      parts.push(cur);
      cur = undefined;
    }
    cur ??= open(parts.length === 0 ? (batch.firstOffset() ?? m.offset) : m.offset);
    cur.lastOffset = m.offset;
    const v = validateMessage(m.value, m.headers);
    if (v.ok) {
      const record = v.repaired ?? m.value!;
      cur.records.push(record);
      cur.messages.push(m);
      cur.rows++;
      cur.bytes += record.length + 1;
    } else {
      cur.dead.push({ message: m, source: `${batch.topic}/${batch.partition}/${m.offset}`, reason: v.reason });
      cur.invalid++;
    }
  }
  cur ??= open(batch.firstOffset() ?? batch.lastOffset());
  cur.lastOffset = batch.lastOffset();
  parts.push(cur);
  return parts;
}

/** The dead letter for row `index` of the rows of `parts` laid end to end. */
export function locate(parts: readonly KafkaPart[], index: number): Omit<DeadLetterMessage, 'reason'> | undefined {
  if (index < 0) return undefined;
  let i = index;
  for (const p of parts) {
    if (i < p.records.length) {
      const message = p.messages[i]!;
      return { message, source: `${p.topic}/${p.partition}/${message.offset}` };
    }
    i -= p.records.length;
  }
  return undefined;
}
