// Readiness of a Kafka ingest worker (/readyz), apart from its liveness (/healthz: not crashed).
// Ready = the consumer is connected and a member of its group (a rebalance has completed), and
// ClickHouse took the worker's last write. Both are judged from what the worker already sees:
// kafkajs' instrumentation events (a healthy member heartbeats every heartbeatInterval, 3 s at
// most here, and an idle one's fetch is answered within maxWaitTimeInMs, 5 s by default, so
// silence longer than `staleMs` means the broker stopped answering, even before any request
// times out; a fetch the broker held open just before it fell silent makes that at most
// 5 + 8 = 13 s, within the 15 s an orchestrator expects) and the outcome of its ClickHouse
// writes; an idle worker pings ClickHouse instead. A failed write outweighs a ping that
// succeeds: ClickHouse may answer /ping while refusing inserts (disk full, too many parts).
import type { Consumer } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import type { Store } from '@gatelog/core';
import { freshName } from './metrics.ts';

export interface ReadinessSettings {
  /** No sign of life from Kafka, or no ClickHouse outcome, for this long: not ready. Default 8 s. */
  staleMs: number;
  /** An idle worker pings ClickHouse this often. Default 3 s. */
  pingMs: number;
  now: () => number;
}

/** What /readyz reports, by dependency: false names what is down. */
export type ReadinessChecks = Record<string, boolean>;

interface Outcome {
  ok: boolean;
  at: number;
}

export class IngestReadiness {
  readonly #s: ReadinessSettings;
  #connected = false;
  #joined = false;
  /** Last sign the broker answers (connect, join, heartbeat, fetch, commit). */
  #kafkaAt = Number.NEGATIVE_INFINITY;
  /** Last request kafkajs gave up waiting for. */
  #timedOutAt = Number.NEGATIVE_INFINITY;
  #write: Outcome | undefined;
  #ping: Outcome | undefined;
  #pinging = false;

  constructor(settings: Partial<ReadinessSettings> = {}) {
    this.#s = { staleMs: settings.staleMs ?? 8_000, pingMs: settings.pingMs ?? 3_000, now: settings.now ?? Date.now };
  }

  /** Follows one consumer's events (each consumer the worker builds, after a crash too). */
  watch(c: Pick<Consumer, 'on' | 'events'>): void {
    const answered = (): void => {
      this.#kafkaAt = this.#s.now();
    };
    c.on(c.events.CONNECT, () => {
      this.#connected = true;
      answered();
    });
    c.on(c.events.GROUP_JOIN, () => {
      this.#joined = true;
      answered();
    });
    c.on(c.events.HEARTBEAT, answered);
    c.on(c.events.FETCH, answered);
    c.on(c.events.COMMIT_OFFSETS, answered);
    c.on(c.events.REBALANCING, () => {
      this.#joined = false;
    });
    c.on(c.events.REQUEST_TIMEOUT, () => {
      this.#timedOutAt = this.#s.now();
    });
    const left = (): void => {
      this.#connected = false;
      this.#joined = false;
    };
    c.on(c.events.STOP, left);
    c.on(c.events.DISCONNECT, left);
    c.on(c.events.CRASH, left);
  }

  /** The outcome of a ClickHouse write (a failed insert, or a read it needed; a write done). */
  clickhouse(ok: boolean): void {
    this.#write = { ok, at: this.#s.now() };
  }

  kafkaOk(): boolean {
    const now = this.#s.now();
    return this.#connected && this.#joined && this.#kafkaAt > this.#timedOutAt && now - this.#kafkaAt <= this.#s.staleMs;
  }

  clickhouseOk(): boolean {
    const now = this.#s.now();
    const fresh = (o: Outcome | undefined): o is Outcome => o !== undefined && now - o.at <= this.#s.staleMs;
    if (fresh(this.#write)) return this.#write.ok;
    return fresh(this.#ping) && this.#ping.ok;
  }

  checks(): ReadinessChecks {
    return { kafka: this.kafkaOk(), clickhouse: this.clickhouseOk() };
  }

  /** Pings `store` whenever no write settled within pingMs; returns the stop function. */
  startPinging(store: Pick<Store, 'client'>): () => void {
    const tick = (): void => {
      const now = this.#s.now();
      if (this.#pinging || (this.#write && now - this.#write.at < this.#s.pingMs)) return;
      this.#pinging = true;
      const settle = (ok: boolean): void => {
        this.#ping = { ok, at: this.#s.now() };
        this.#pinging = false;
      };
      store.client.ping().then((r) => settle(r.success), () => settle(false));
    };
    tick();
    const timer = setInterval(tick, this.#s.pingMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** gatelog_ingest_kafka_connected and gatelog_ingest_clickhouse_ok, computed at scrape time. */
  register(registry: Registry): void {
    const registers = [registry];
    const kafkaOk = (): boolean => this.kafkaOk();
    const clickhouseOk = (): boolean => this.clickhouseOk();
    new Gauge({
      name: freshName(registry, 'gatelog_ingest_kafka_connected'),
      help: 'Whether this worker is connected to Kafka and a member of its consumer group (1) or not (0): what /readyz reports as kafka',
      registers,
      collect() {
        this.set(kafkaOk() ? 1 : 0);
      },
    });
    new Gauge({
      name: freshName(registry, 'gatelog_ingest_clickhouse_ok'),
      help: 'Whether ClickHouse took this worker\'s last write, or answered its ping when idle (1), or not (0): what /readyz reports as clickhouse',
      registers,
      collect() {
        this.set(clickhouseOk() ? 1 : 0);
      },
    });
  }
}
