import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PartitionerArgs } from 'kafkajs';
import { keyPartitioner, murmur2 } from './partition.ts';

// kafkajs' own hash and partitioner are the reference (they match the Java client).
const require = createRequire(import.meta.resolve('kafkajs'));
const kafkaMurmur2 = require('./src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;
const { Partitioners } = require('kafkajs') as typeof import('kafkajs');

function args(key: Buffer | string | null, partitions: number): PartitionerArgs {
  return {
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] })),
    message: { key, value: 'v' },
  };
}

describe('murmur2', () => {
  it('equals kafkajs (and so the Java client) on random keys of every length mod 4', () => {
    for (let i = 0; i < 4000; i++) {
      const key = randomBytes(i % 97);
      expect(murmur2(key), key.toString('hex')).toBe(kafkaMurmur2(key));
    }
  });

  it('equals kafkajs on request ids and on non-ASCII string keys', () => {
    for (const k of ['0190f0a4-7c1e-7d3a-9b2e-1f0c3a5b7d9e', '', 'a', 'ab', 'abc', 'ключ', '🔑 key', 'x'.repeat(1000)]) {
      expect(murmur2(Buffer.from(k))).toBe(kafkaMurmur2(k));
    }
  });

  it('is Kafka’s published value for a known key', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2: "21" → -973932308.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
  });
});

describe('keyPartitioner', () => {
  // The producer takes the partitioner's number modulo the topic's partition count.
  it('picks, modulo the partition count, the partition kafkajs’ default partitioner picks', () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(36).toString('hex');
      for (const n of [1, 3, 12]) expect(ours(undefined, Buffer.from(key)) % n).toBe(theirs(args(key, n)));
    }
  });

  it('spreads keyless records over every partition', () => {
    const p = keyPartitioner();
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(p(undefined, undefined) % 4);
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });
});
