// TEST FIXTURE ONLY - never for production (docker-compose runs the real Kafka there).
// A single-node, in-memory Kafka broker speaking the wire protocol versions kafkajs 2.2.4
// negotiates, so tests can run real kafkajs producers and consumer groups on loopback, and
// inject faults: stop()/restart() on the same port (data kept), refuse() connections, stall()
// answers, lose produce responses after the append.
import { createServer, type Server, type Socket } from 'node:net';
import { BrokerConnection } from './connection.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import type { ApiHandler, BrokerState } from './handler-types.ts';
import { API_HANDLERS } from './handlers/index.ts';
import { ProducerStateTable } from './producer-state.ts';
import type { RecordHeader } from './record-batch.ts';
import { TopicStore } from './topic-store.ts';

export interface KafkaTestBrokerOptions {
  /** Loopback only; defaults to 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port on the first start; restart() reuses it. */
  port?: number;
  /** Partitions for auto-created topics and CreateTopics with num_partitions -1. Default 1. */
  defaultPartitions?: number;
  /** Create unknown topics on Metadata requests that allow it. Default true. */
  autoCreateTopics?: boolean;
  clusterId?: string;
  /**
   * Per partition, drop the oldest batches once the log holds more than this many bytes, and
   * move the log start past them (Kafka's retention.bytes). Default: keep everything. A
   * long-running sink (the bench's) sets it so its heap does not grow with every event.
   */
  retentionBytes?: number;
  /**
   * Largest record batch (compressed, header included) a partition accepts, as Kafka's
   * `message.max.bytes` / topic `max.message.bytes`; a larger one is refused with
   * MESSAGE_TOO_LARGE and nothing of it is appended. Default: no limit.
   */
  maxMessageBytes?: number;
  /**
   * Inflate and decode every produced batch's records on arrival, refusing a payload that does
   * not decode (CORRUPT_MESSAGE), as Kafka's log validation does. Default true. The bench's sink
   * turns it off: nothing fetches its topic, framing and CRC-32C are still checked, and the
   * decoding (an inflate and a copy of every record, milliseconds per batch) would otherwise run
   * on the load generator's core, where a real broker's work never runs.
   */
  decodeOnProduce?: boolean;
}

export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  /** Codec id of the batch the record came in: 0 none, 1 GZIP, 4 ZSTD. */
  compression: number;
}

export interface CommittedOffsetEntry {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

export class KafkaTestBroker {
  /** Unexpected failures inside the fixture (decode bugs, unsupported requests); tests may assert it stays empty. */
  readonly errors: Error[] = [];
  private readonly host: string;
  private boundPort: number;
  private readonly store: TopicStore;
  private readonly groups = new GroupCoordinator();
  private readonly producers = new ProducerStateTable();
  private readonly state: BrokerState;
  private readonly handlers: ReadonlyMap<number, ApiHandler>;
  private readonly connections = new Set<BrokerConnection>();
  private server: Server | undefined;
  private refusing = false;
  private stalled = false;
  private lostProduceResponses = 0;

  constructor(options: KafkaTestBrokerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.boundPort = options.port ?? 0;
    this.store = new TopicStore({ defaultPartitions: options.defaultPartitions ?? 1, ...(options.retentionBytes ? { retentionBytes: options.retentionBytes } : {}) });
    this.handlers = new Map(API_HANDLERS.map((h) => [h.apiKey, h]));
    this.state = {
      nodeId: 0,
      host: this.host,
      port: () => this.boundPort,
      clusterId: options.clusterId ?? 'gatelog-test-cluster',
      autoCreateTopics: options.autoCreateTopics ?? true,
      maxMessageBytes: options.maxMessageBytes ?? Number.POSITIVE_INFINITY,
      decodeOnProduce: options.decodeOnProduce ?? true,
      store: this.store,
      producers: this.producers,
      groups: this.groups,
      takeLostProduceResponse: () => this.lostProduceResponses > 0 && this.lostProduceResponses-- > 0,
      apis: () => API_HANDLERS,
    };
  }

  get port(): number {
    if (this.boundPort === 0) throw new Error('KafkaTestBroker: not started yet');
    return this.boundPort;
  }

  /** The `brokers` list for a kafkajs client. */
  get brokers(): string[] {
    return [`${this.host}:${this.port}`];
  }

  /** How many retried idempotent batches were acknowledged without being appended again. */
  get duplicateBatches(): number {
    return this.producers.duplicates;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('KafkaTestBroker: no TCP address');
    this.boundPort = address.port;
    this.server = server;
  }

  /** Closes the listener and drops every connection; topics, offsets and producer state stay. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    // Group membership is coordinator memory: members rejoin after a restart, as after failover.
    this.groups.reset();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** stop() then start() on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** While on, existing connections are dropped and new ones are closed right after accept. */
  /**
   * The group coordinator forgets every member, as after a coordinator failover: each member's
   * next heartbeat or commit is answered UNKNOWN_MEMBER_ID and it rejoins, fetching again from
   * the committed offsets. Committed offsets are kept.
   */
  forgetMembers(): void {
    this.groups.reset();
  }

  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.dropConnections();
  }

  /**
   * While on, requests are read but not answered; once unstalled they are processed in order.
   * Like a real broker coming out of a long pause, a produce request whose client already gave
   * up may still be appended then - consumers must tolerate that (dedupe by key).
   */
  stall(on: boolean): void {
    this.stalled = on;
    if (!on) for (const c of this.connections) c.resume();
  }

  /** Kafka's max.message.bytes from now on (Infinity: no limit). */
  limitMessageBytes(bytes: number): void {
    this.state.maxMessageBytes = bytes;
  }

  /** The next `count` produce requests are appended but their responses lost (connection dropped). */
  loseNextProduceResponses(count: number): void {
    this.lostProduceResponses = count;
  }

  /** CreateTopics without a client; `partitions` defaults to the broker's default. */
  createTopic(topic: string, partitions = -1): void {
    this.store.create(topic, partitions);
  }

  /** One partition's extent: its log start, next offset, and the bytes of the batches it holds. */
  extent(topic: string, partition: number): { logStartOffset: number; nextOffset: number; bytes: number; firstBaseOffset: number | null } {
    const log = this.store.log(topic, partition);
    return { logStartOffset: log.logStartOffset, nextOffset: log.nextOffset, bytes: log.batches.reduce((n, b) => n + b.raw.length, 0), firstBaseOffset: log.batches[0]?.baseOffset ?? null };
  }

  /** Everything stored in `topic`, by partition then offset, with decoded key, value and headers. */
  records(topic: string): StoredRecord[] {
    const out: StoredRecord[] = [];
    (this.store.partitions(topic) ?? []).forEach((log, partition) => {
      for (const batch of log.batches) {
        if (batch.isControl) continue;
        for (const rec of batch.records) {
          out.push({
            topic,
            partition,
            offset: batch.baseOffset + rec.offsetDelta,
            timestamp: batch.firstTimestamp + rec.timestampDelta,
            key: rec.key,
            value: rec.value,
            headers: rec.headers,
            compression: batch.compression,
          });
        }
      }
    });
    return out;
  }

  committedOffsets(groupId: string): CommittedOffsetEntry[] {
    const out: CommittedOffsetEntry[] = [];
    for (const [topic, partitions] of this.groups.committed(groupId)) {
      for (const [partition, c] of partitions) out.push({ topic, partition, offset: c.offset, metadata: c.metadata });
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  private accept(socket: Socket): void {
    if (this.refusing || !this.server) {
      socket.destroy();
      return;
    }
    const conn = new BrokerConnection(socket, {
      state: this.state,
      handlers: this.handlers,
      isStalled: () => this.stalled,
      onError: (err) => this.errors.push(err),
    });
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }

  private dropConnections(): void {
    for (const c of this.connections) c.close();
    this.connections.clear();
  }
}
