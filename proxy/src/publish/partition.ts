// Which partition a record goes to: the Java client's rule (murmur2 of the key's bytes, made
// positive, modulo the partition count), so a request id lands where any other Kafka client
// would put it. 32-bit Math.imul gives the low 32 bits Kafka's hash keeps without 64-bit
// arithmetic (partition.test.ts compares it with kafkajs' implementation on random keys).

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of `data`, as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2]! << 16;
    // falls through
    case 2:
      h ^= data[whole + 1]! << 8;
    // falls through
    case 1:
      h ^= data[whole]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partitioner of the publisher's producer: murmur2 of the key made positive, which the
 * producer takes modulo the topic's partition count (so kafkajs' DefaultPartitioner and the Java
 * client put a request id in the same partition, and one call's retries share it); a record
 * without a key goes round-robin.
 */
export function keyPartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let counter = Math.floor(Math.random() * 0x7fffffff);
  return (_message, key) => {
    if (key) return murmur2(key) & 0x7fffffff;
    counter = (counter + 1) & 0x7fffffff;
    return counter;
  };
}
