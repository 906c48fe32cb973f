// Test fixture only (docker-compose runs the real Kafka in production): Fetch v11 (full
// fetches only: kafkajs never opens incremental fetch sessions). Answers at once when at
// least min_bytes are available, otherwise long-polls until an append to a requested
// partition or max_wait_ms, as a real broker's purgatory does.
import { ERROR, KafkaProtocolError } from '../errors.ts';
import type { ApiHandler, BrokerState } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';
import type { ProtocolReader } from '../protocol-reader.ts';

interface FetchPartition {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  topics: { topic: string; partitions: FetchPartition[] }[];
}

export const fetch: ApiHandler = {
  apiKey: 1,
  name: 'Fetch',
  minVersion: 11,
  maxVersion: 11,
  async handle(broker, req, r) {
    const request = readRequest(r);
    const wanted = new Set(request.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}/${p.partition}`)));
    const deadline = Date.now() + request.maxWaitMs;
    for (;;) {
      const response = buildResponse(broker, request);
      const left = deadline - Date.now();
      if (response.bytes >= request.minBytes || left <= 0 || req.signal.aborted) return response.writer;
      await waitForAppend(broker, wanted, left, req.signal);
    }
  },
};

function readRequest(r: ProtocolReader): FetchRequest {
  r.int32(); // replica id: always -1 from consumers
  const maxWaitMs = r.int32();
  const minBytes = r.int32();
  const maxBytes = r.int32();
  r.int8(); // isolation level: no transactions here, so both levels see the same data
  r.int32(); // session id
  r.int32(); // session epoch
  const topics = r.array((x) => ({
    topic: x.string(),
    partitions: x.array((y) => {
      const partition = y.int32();
      y.int32(); // current leader epoch
      const fetchOffset = y.int64();
      y.int64(); // follower log start offset
      return { partition, fetchOffset, maxBytes: y.int32() };
    }),
  }));
  r.array((x) => [x.string(), x.array((y) => y.int32())]); // forgotten topics (sessions only)
  r.string(); // rack id
  return { maxWaitMs, minBytes, maxBytes, topics };
}

function buildResponse(broker: BrokerState, request: FetchRequest): { writer: ProtocolWriter; bytes: number } {
  let bytes = 0;
  const w = new ProtocolWriter().int32(0).int16(ERROR.NONE).int32(0);
  w.array(request.topics, (x, t) => {
    x.string(t.topic);
    x.array(t.partitions, (y, p) => {
      let errorCode: number = ERROR.NONE;
      let hw = -1;
      let logStart = -1;
      let batches: Buffer[] = [];
      try {
        const log = broker.store.log(t.topic, p.partition);
        hw = log.nextOffset;
        logStart = log.logStartOffset;
        if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.nextOffset) {
          throw new KafkaProtocolError(ERROR.OFFSET_OUT_OF_RANGE, `offset ${p.fetchOffset} outside [${logStart}, ${hw}]`);
        }
        batches = log.read(p.fetchOffset, Math.min(p.maxBytes, request.maxBytes - bytes), bytes === 0);
      } catch (err) {
        if (!(err instanceof KafkaProtocolError)) throw err;
        errorCode = err.code;
      }
      const records = Buffer.concat(batches);
      bytes += records.length;
      y.int32(p.partition).int16(errorCode).int64(hw).int64(hw).int64(logStart);
      y.array(null, () => undefined); // aborted transactions: none
      y.int32(-1); // preferred read replica: none
      y.bytes(records);
    });
  });
  return { writer: w, bytes };
}

function waitForAppend(broker: BrokerState, wanted: Set<string>, maxWaitMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, maxWaitMs);
    const unsubscribe = broker.store.onAppend((topic, partition) => {
      if (wanted.has(`${topic}/${partition}`)) done();
    });
    signal.addEventListener('abort', done);
    if (signal.aborted) done();
  });
}
