// Test fixture only (docker-compose runs the real Kafka in production): what every API handler
// gets (shared broker state plus per-request facts) and what it may answer.
import type { GroupCoordinator } from './group-coordinator.ts';
import type { ProducerStateTable } from './producer-state.ts';
import type { ProtocolReader } from './protocol-reader.ts';
import type { ProtocolWriter } from './protocol-writer.ts';
import type { TopicStore } from './topic-store.ts';

export interface BrokerState {
  nodeId: number;
  host: string;
  port(): number;
  clusterId: string;
  autoCreateTopics: boolean;
  store: TopicStore;
  producers: ProducerStateTable;
  groups: GroupCoordinator;
  /** Largest record batch a partition takes, in bytes (Kafka's max.message.bytes); larger ones get MESSAGE_TOO_LARGE. */
  maxMessageBytes: number;
  /** Whether a produced batch's records are inflated and decoded on arrival (KafkaTestBrokerOptions.decodeOnProduce). */
  decodeOnProduce: boolean;
  /** Fault injection: true when this produce response should be lost after the append. */
  takeLostProduceResponse(): boolean;
  /** Every API this broker serves, for ApiVersions. */
  apis(): readonly ApiHandler[];
}

export interface RequestInfo {
  apiVersion: number;
  clientId: string;
  /** Aborted when the connection closes, so long polls stop waiting. */
  signal: AbortSignal;
}

/** `no-response` for acks=0 produce; `drop-connection` simulates a response lost in flight. */
export type HandlerResult = ProtocolWriter | 'no-response' | 'drop-connection';

export interface ApiHandler {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  handle(broker: BrokerState, req: RequestInfo, body: ProtocolReader): HandlerResult | Promise<HandlerResult>;
}
