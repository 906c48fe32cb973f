import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PartitionerArgs } from 'kafkajs';
import { keyPartitioner, murmur2 } from './partition.ts';

// kafkajs' own hash and partitioner are the reference (they match the Java client).
const require = createRequire(import.meta.resolve('kafkajs'));
const kafkaMurmur2 = require('./src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;
const { Partitioners } = require('kafkajs') as typeof import('kafkajs');

function args(key: Buffer | string | null, partitions: number, leaderless: number[] = []): PartitionerArgs {
  return {
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: leaderless.includes(i) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] })),
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
  it('picks the partition kafkajs’ default partitioner picks, for string and Buffer keys', () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(36).toString('hex');
      for (const n of [1, 3, 12]) {
        expect(ours(args(key, n))).toBe(theirs(args(key, n)));
        expect(ours(args(Buffer.from(key), n))).toBe(theirs(args(key, n)));
      }
    }
  });

  it('keeps an explicit partition and spreads keyless records over partitions with a leader', () => {
    const p = keyPartitioner();
    expect(p({ ...args('k', 6), message: { key: 'k', value: 'v', partition: 4 } })).toBe(4);
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(p(args(null, 4, [1])));
    expect([...seen].sort()).toEqual([0, 2, 3]);
  });
});
