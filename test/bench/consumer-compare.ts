// Kafka consumer CPU per event: kafkajs as ingest/src/kafka-consumer.ts sets it up against
// @platformatic/kafka's Consumer (the proxy's producer library), on the same topic.
//   node test/bench/consumer-compare.ts [--events N] [--rounds R]
//     [--variants kafkajs,platformatic,kafkajs-lean,platformatic-lean] [--lean '{"maxBytes":…}']
//     [--rate EVENTS_PER_S --seconds S] [--prof PREFIX]
// N realistic ~2.3 KB events (ingest-events.ts) are produced ZSTD-compressed into the broker
// fixture's topic (4 partitions; `produce` of ingest.ts, as `pnpm bench --ingest` does; the
// fixtures run in a child process of their own, ingest-fixtures.ts). Then, in rounds whose order
// flips every round, each variant runs in a child process of its own (node's startup and module
// loading happen before its clock starts) and consumes the topic twice, each time in a consumer
// group of its own: a warm-up pass (JIT cold; reported as "cold pass"), then the measured pass —
// a worker runs for days. Backlog mode (default): the measured pass reads all N again, as a
// worker catching up does. Live mode (--rate): it reads a fresh topic the parent produces into at
// RATE events/s for S seconds, in 100 ms ticks (one batch per partition per tick, like a proxy's
// relay), as a worker that keeps up does; its clock starts once it has joined the group.
//   kafkajs       ingest's consumer: maxBytes / maxBytesPerPartition 16 MiB, autoCommit off,
//                 eachBatch with eachBatchAutoResolve off, partitionsConsumedConcurrently 1,
//                 gatelog's ZSTD codec (Node's zstd on the libuv pool), resolveOffset per batch
//   platformatic  @platformatic/kafka Consumer, same group semantics and fetch sizes (autocommit
//                 off, offsets from the committed ones, else the earliest), its messages stream
//                 in flowing mode (ZSTD inflated synchronously on the JS thread)
//   kafkajs-lean  kafkajs with ingest's semantics and other settings (--lean, JSON ConsumerConfig)
//   platformatic-lean  platformatic with --lean's maxBytes, maxBytesPerPartition, minBytes, maxWaitTimeInMs
// Every variant reads each message's value Buffer and commits the offsets it consumed every
// 10,000 messages (ingest commits after each insert of up to 10,000 rows), without waiting.
// CPU: the child's process.cpuUsage() (all threads) and its JS main thread (/proc/self/task)
// over the measured pass, per event; the broker fixture's CPU (both passes, or in live mode the
// measured one, produce requests included) is shown apart. The 1-minute load average is printed
// per run. --prof PREFIX: a V8 CPU profile of each measured pass (test/bench/profile-summary.ts).
// First, as in ingest/src/main.ts: the worker's V8 settings.
import '@gatelog/core/heap-tuning';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import kafkajs, { logLevel, type ConsumerConfig, type EachBatchPayload } from 'kafkajs';
// Only the codec module: the children load nothing else of gatelog.
import { registerKafkaCodecs } from '@gatelog/core/bus/kafka-codecs';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, type Message } from '@platformatic/kafka';
import { cpuDelta, threadCpu } from './threads.ts';

const VARIANTS = ['kafkajs', 'platformatic', 'kafkajs-lean', 'platformatic-lean'] as const;
type Variant = (typeof VARIANTS)[number];
const MAIN_THREAD = 'main (JS event loop)';
/** Ingest's fetch sizes (kafka-consumer.ts runConsumer). */
const FETCH_BYTES = 16 << 20;
const COMMIT_EVERY = 10_000;

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '6' },
    variants: { type: 'string', default: 'kafkajs,platformatic' },
    lean: { type: 'string', default: '{}' },
    // Live mode: after the warm-up pass over the backlog, each child consumes a fresh topic the
    // parent produces into at RATE events/s for SECONDS (what a worker that keeps up sees).
    rate: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    // PREFIX: each child writes a V8 CPU profile of its measured pass to PREFIX-<group>.cpuprofile.
    prof: { type: 'string' },
    // Child mode.
    child: { type: 'string' },
    broker: { type: 'string' },
    topic: { type: 'string' },
    group: { type: 'string' },
    live: { type: 'string' },
    'live-events': { type: 'string' },
  },
});

interface ChildResult {
  variant: Variant;
  events: number;
  /** Seconds from the start of consuming to the first message (group join, first fetch) and to the last. */
  firstS: number;
  totalS: number;
  /** CPU µs per event: the whole process, the JS main thread, and the other threads by name. */
  cpuUs: number;
  mainUs: number;
  threads: [string, number][];
  /** Sum of the values' lengths: every value was read. */
  bytes: number;
  /** The child's first pass (JIT cold), when this is its second. */
  cold?: ChildResult;
}

// ---------------------------------------------------------------- child: one consumer, one run

interface Run {
  /** Starts consuming; the run counts what arrives in its tally. */
  start(): Promise<void>;
  /** Settles when the consumer first joined its group (got its partitions). */
  joined: Promise<void>;
  close(): Promise<void>;
}

/** One pass over the topic: messages and value bytes seen, and when the first and the N-th came. */
class Tally {
  seen = 0;
  bytes = 0;
  firstAt = 0;
  readonly n: number;
  readonly done: Promise<void>;
  #resolve: () => void = () => {};
  constructor(n: number) {
    this.n = n;
    this.done = new Promise<void>((r) => (this.#resolve = r));
  }
  counted(messages: number): void {
    if (this.firstAt === 0) this.firstAt = performance.now();
    this.seen += messages;
    if (this.seen >= this.n) this.#resolve();
  }
}

const N = Number(args.events);

async function kafkajsRun(tally: Tally, broker: string, topic: string, groupId: string, extra: Partial<ConsumerConfig>): Promise<Run> {
  registerKafkaCodecs(kafkajs.CompressionCodecs);
  const kafka = new kafkajs.Kafka({ clientId: 'consumer-compare', brokers: [broker], logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: true, maxBytesPerPartition: FETCH_BYTES, maxBytes: FETCH_BYTES, ...extra });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  const last = new Map<number, string>();
  let sinceCommit = 0;
  let lagSum = 0;
  const eachBatch = async ({ batch, resolveOffset }: EachBatchPayload): Promise<void> => {
    if (batch.isEmpty()) return;
    lagSum += Number(batch.offsetLag()); // ingest sets its lag gauge per batch
    for (const m of batch.messages) {
      const v = m.value!;
      tally.bytes += v.length + (v[v.length - 1]! & 1);
    }
    const lastOffset = batch.lastOffset();
    resolveOffset(lastOffset);
    last.set(batch.partition, lastOffset);
    sinceCommit += batch.messages.length;
    if (sinceCommit >= COMMIT_EVERY) {
      sinceCommit = 0;
      const offsets = [...last].map(([partition, o]) => ({ topic, partition, offset: (BigInt(o) + 1n).toString() }));
      consumer.commitOffsets(offsets).catch((err: unknown) => process.stderr.write(`commit failed: ${String(err)}\n`));
    }
    tally.counted(batch.messages.length);
    await Promise.resolve();
  };
  return {
    joined,
    start: () => consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch }),
    close: async () => {
      void lagSum;
      await consumer.disconnect();
    },
  };
}

async function platformaticRun(tally: Tally, broker: string, topic: string, groupId: string, extra: Partial<ConsumerConfig>): Promise<Run> {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'consumer-compare',
    bootstrapBrokers: [broker],
    groupId,
    autocommit: false,
    maxBytes: extra.maxBytes ?? FETCH_BYTES,
    maxBytesPerPartition: extra.maxBytesPerPartition ?? FETCH_BYTES,
    minBytes: extra.minBytes ?? 1,
    // kafkajs' defaults, which ingest keeps: session 30 s, heartbeat 3 s, fetch wait 5 s.
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTime: extra.maxWaitTimeInMs ?? 5_000,
  });
  // The analogue of kafkajs' connect(): the bootstrap connection and the topic's metadata.
  await consumer.metadata({ topics: [topic] });
  const joined = new Promise<void>((r) => consumer.once('consumer:group:join', () => r()));
  const last = new Map<number, Message<Buffer, Buffer, Buffer, Buffer>>();
  let sinceCommit = 0;
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const onData = (m: Message<Buffer, Buffer, Buffer, Buffer>): void => {
    const v = m.value;
    tally.bytes += v.length + (v[v.length - 1]! & 1);
    last.set(m.partition, m);
    if (++sinceCommit >= COMMIT_EVERY) {
      sinceCommit = 0;
      const offsets = [...last.values()].map((x) => ({ topic, partition: x.partition, offset: x.offset + 1n, leaderEpoch: x.leaderEpoch }));
      consumer.commit({ offsets }).catch((err: unknown) => process.stderr.write(`commit failed: ${String(err)}\n`));
    }
    tally.counted(1);
  };
  return {
    joined,
    start: async () => {
      stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST });
      stream.on('data', onData);
      stream.on('error', (err: unknown) => process.stderr.write(`stream error: ${String(err)}\n`));
    },
    close: async () => {
      await stream?.close();
      await consumer.close(true);
    },
  };
}

/**
 * One pass of `variant` over `topic` in consumer group `group`: its CPU from the start of
 * consuming to the n-th message; `live`: from the group join on (printed as LIVE-READY, the
 * parent then starts producing).
 */
async function pass(variant: Variant, group: string, topic: string, n: number, opts: { profileTo?: string | undefined; live?: boolean } = {}): Promise<ChildResult> {
  const broker = args.broker!;
  const profileTo = opts.profileTo;
  const tally = new Tally(n);
  const extra = variant.endsWith('-lean') ? (JSON.parse(args.lean) as Partial<ConsumerConfig>) : {};
  const run = variant.startsWith('platformatic') ? await platformaticRun(tally, broker, topic, group, extra) : await kafkajsRun(tally, broker, topic, group, extra);
  const session = profileTo ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  if (opts.live) {
    await run.start();
    await run.joined;
    process.stdout.write('LIVE-READY\n');
  }
  const threads0 = threadCpu(process.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (!opts.live) await run.start();
  await tally.done;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const threads = cpuDelta(threads0, threadCpu(process.pid));
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileTo!, JSON.stringify(profile));
    session.disconnect();
  }
  await Promise.race([run.close().catch(() => {}), new Promise((r) => setTimeout(r, 3_000).unref())]);
  const per = (s: number): number => (s * 1e6) / tally.seen;
  return {
    variant,
    events: tally.seen,
    firstS: (tally.firstAt - t0) / 1000,
    totalS: (t1 - t0) / 1000,
    cpuUs: (cpu.user + cpu.system) / tally.seen,
    mainUs: per(threads.find(([t]) => t === MAIN_THREAD)?.[1] ?? 0),
    threads: threads.filter(([t]) => t !== MAIN_THREAD).map(([t, s]): [string, number] => [t, per(s)]),
    bytes: tally.bytes,
  };
}

/**
 * A worker runs for days: the measured pass is the child's second over the topic, after one in a
 * group of its own has compiled the hot paths (the first, cold pass is reported alongside).
 */
async function child(variant: Variant): Promise<void> {
  const cold = await pass(variant, `${args.group!}-warmup`, args.topic!, N);
  await new Promise((r) => setTimeout(r, 200));
  const profileTo = args.prof ? `${args.prof}-${args.group!}.cpuprofile` : undefined;
  const warm = args.live ? await pass(variant, args.group!, args.live, Number(args['live-events']), { profileTo, live: true }) : await pass(variant, args.group!, args.topic!, N, { profileTo });
  process.stdout.write(`RESULT ${JSON.stringify({ ...warm, cold })}\n`);
}

// ---------------------------------------------------------------- parent: fixtures, topic, rounds

interface RoundRow extends ChildResult {
  round: number;
  load: number;
  fixtureUs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (v: number): string => v.toFixed(1);
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const steadyRate = (r: ChildResult): number => (r.totalS > r.firstS ? r.events / (r.totalS - r.firstS) : r.events / r.totalS);

async function parent(): Promise<void> {
  // Parent-only modules (the fixtures, the producer): the children do not load them.
  const { killAll, spawnChild } = await import('./children.ts');
  const { TOPIC, produce, startFixtures } = await import('./ingest.ts');
  const { checkedEventBytes, realisticEvent, rng } = await import('./ingest-events.ts');
  const { KAFKA_CODEC_ID } = await import('@gatelog/core/bus/kafka-codecs');
  const { recordMeta, SCHEMA_VERSION_HEADER } = await import('@gatelog/proxy/publish/kafka');
  const variants = args.variants.split(',').map((v) => {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`unknown variant ${v} (${VARIANTS.join(', ')})`);
    return v as Variant;
  });
  const rounds = Number(args.rounds);
  const { fixtures, addr } = await startFixtures();
  const rows: RoundRow[] = [];
  try {
    const kafka = new kafkajs.Kafka({ clientId: 'consumer-compare-producer', brokers: [addr.kafka], logLevel: logLevel.NOTHING });
    const produceS = await produce(kafka, N);
    const rate = args.rate ? Number(args.rate) : 0;
    const liveEvents = Math.round(rate * Number(args.seconds));
    const mode = rate ? `live: a fresh topic produced at ${int(rate)} events/s for ${args.seconds} s (${int(liveEvents)} events) after a warm-up pass over the backlog` : 'backlog: a second pass over the pre-produced topic after a warm-up pass';
    process.stdout.write(`consumer compare · ${int(N)} events of ~${int(checkedEventBytes(rng(1)).length)} B, ZSTD, 4 partitions, produced in ${f1(produceS)} s · measured: ${mode} · node ${process.version} · variants ${variants.join(', ')}${variants.some((v) => v.endsWith('-lean')) ? ` (lean: ${args.lean})` : ''}\n`);
    // Live mode: a pool of events (keys and headers as the proxy sets them) sent in 100 ms ticks,
    // one batch per partition per tick like a proxy's relay, with ZSTD.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    if (rate) await producer.connect();
    const rr = rng(7);
    const pool = rate
      ? Array.from({ length: Math.min(liveEvents, 5000) }, () => {
          const value = Buffer.from(JSON.stringify(realisticEvent(rr)));
          const { key, version } = recordMeta(value);
          return { key: key ?? null, value, headers: { [SCHEMA_VERSION_HEADER]: version } };
        })
      : [];
    const produceLive = async (topic: string): Promise<void> => {
      const perTick = Math.max(1, Math.round(rate / 10));
      const t0 = performance.now();
      for (let sent = 0, tick = 0; sent < liveEvents; tick++) {
        const wait = t0 + tick * 100 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const size = Math.min(perTick, liveEvents - sent);
        const messages = Array.from({ length: size }, (_, i) => pool[(sent + i) % pool.length]!);
        await producer.send({ topic, acks: -1, compression: KAFKA_CODEC_ID.zstd, messages });
        sent += size;
      }
    };
    const admin = kafka.admin();
    if (rate) await admin.connect();
    const fixtureCpu = (): number => [...threadCpu(fixtures.proc.pid!).values()].reduce((a, b) => a + b, 0);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        const load = loadavg()[0]!;
        const group = `cc-${variant}-${r}-${process.pid}`;
        const live = `live-${group}`;
        if (rate) await admin.createTopics({ topics: [{ topic: live, numPartitions: 4 }] });
        let f0 = fixtureCpu();
        const c = await spawnChild({
          name: `consumer ${variant}`,
          cmd: process.execPath,
          args: ['--disable-warning=ExperimentalWarning', fileURLToPath(import.meta.url), '--child', variant, '--broker', addr.kafka, '--topic', TOPIC, '--group', group, '--events', String(N), '--lean', args.lean, ...(args.prof ? ['--prof', args.prof] : []), ...(rate ? ['--live', live, '--live-events', String(liveEvents)] : [])],
          cpus: null,
          readyPattern: rate ? /(LIVE-READY)\n/ : /RESULT (\{.*\})\n/,
          timeoutMs: 180_000,
        });
        let result = c.ready;
        if (rate) {
          f0 = fixtureCpu();
          await produceLive(live);
          const deadline = performance.now() + 60_000;
          for (;;) {
            const m = /RESULT (\{.*\})\n/.exec(c.output());
            if (m) {
              result = m[1]!;
              break;
            }
            if (performance.now() > deadline) throw new Error(`consumer ${variant} did not get the live events:\n${c.output().slice(-2000)}`);
            await new Promise((res) => setTimeout(res, 20));
          }
        }
        // Backlog: the broker served both of the child's passes. Live: the produce requests too.
        const fixtureUs = ((fixtureCpu() - f0) * 1e6) / (rate ? liveEvents : 2 * N);
        await c.stop('SIGTERM');
        const res = JSON.parse(result) as ChildResult;
        const row: RoundRow = { ...res, round: r + 1, load, fixtureUs };
        rows.push(row);
        process.stdout.write(`round ${r + 1} · load ${load.toFixed(2)} · ${variant}: ${f1(row.cpuUs)} µs/event (main ${f1(row.mainUs)}; ${row.threads.filter(([, v]) => v >= 0.2).map(([t, v]) => `${t} ${f1(v)}`).join(', ')}) · ${int(steadyRate(row))} events/s after the first message (first after ${row.firstS.toFixed(2)} s) · broker fixture ${f1(fixtureUs)} µs/event · cold pass ${row.cold ? `${f1(row.cold.cpuUs)} µs/event (main ${f1(row.cold.mainUs)})` : '—'}\n`);
      }
    }
    if (rate) await Promise.all([producer.disconnect(), admin.disconnect()]);
  } finally {
    await fixtures.stop('SIGTERM');
    killAll();
  }
  const lines = [
    '',
    '| round | consumer | load (1 min) | CPU µs/event (all threads) | JS main thread µs/event | other threads µs/event | events/s (after first message) | start → all | broker fixture µs/event | cold pass: CPU (main) µs/event |',
    '|---:|---|---:|---:|---:|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.round} | ${r.variant} | ${r.load.toFixed(2)} | ${f1(r.cpuUs)} | ${f1(r.mainUs)} | ${r.threads.filter(([, v]) => v >= 0.2).map(([t, v]) => `${t} ${f1(v)}`).join(', ') || '—'} | ${int(steadyRate(r))} | ${r.totalS.toFixed(2)} s | ${f1(r.fixtureUs)} | ${r.cold ? `${f1(r.cold.cpuUs)} (${f1(r.cold.mainUs)})` : '—'} |`),
    '',
    '| consumer (median) | runs | CPU µs/event | JS main thread µs/event | events/s | broker fixture µs/event | cold pass CPU µs/event |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...VARIANTS.filter((v) => rows.some((r) => r.variant === v)).map((v) => {
      const rs = rows.filter((r) => r.variant === v);
      return `| ${v} | ${rs.length} | ${f1(median(rs.map((r) => r.cpuUs)))} | ${f1(median(rs.map((r) => r.mainUs)))} | ${int(median(rs.map(steadyRate)))} | ${f1(median(rs.map((r) => r.fixtureUs)))} | ${f1(median(rs.map((r) => r.cold?.cpuUs ?? NaN)))} |`;
    }),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const main = args.child ? child(args.child as Variant) : parent();
main.then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`consumer-compare failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
