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
  /** Valid rows and their bytes: what the insert queue sizes writes by. */
  rows: number;
  bytes: number;
}

export function toPart(batch: EachBatchPayload['batch']): KafkaPart {
  const records: Buffer[] = [];
  const messages: KafkaMessage[] = [];
  const dead: DeadLetterMessage[] = [];
  let bytes = 0;
  for (const m of batch.messages) {
    const v = validateMessage(m.value, m.headers);
    if (v.ok) {
      records.push(m.value!);
      messages.push(m);
      bytes += m.value!.length + 1;
    } else dead.push({ message: m, source: `${batch.topic}/${batch.partition}/${m.offset}`, reason: v.reason });
  }
  return { topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() ?? batch.lastOffset(), lastOffset: batch.lastOffset(), records, messages, dead, rows: records.length, bytes };
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
