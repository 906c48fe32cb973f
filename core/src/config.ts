// gatelog.yaml's schema (zod); config-load.ts reads a file into it. Parsed once at start and
// passed down.
import { z } from 'zod';
import { StateConfig } from './state-config.ts';
import { RedactionConfig } from './redact/policy.ts';
import { Duration, RetentionConfig } from './store/retention.ts';
import { isHostPattern } from './allowed-hosts.ts';
import { AlertsConfig } from './alerts/rule.ts';
import { OtelConfig } from './otel/config.ts';
import { AuditConfig } from './audit-stream/config.ts';
import { SsoConfig } from './auth/oidc-config.ts';

/**
 * Provider kinds. `openai` is any OpenAI-compatible server (base_url required); the presets
 * groq … gemini are OpenAI-compatible services with a default base_url (proxy/src/providers/
 * presets.ts); `azure` needs its resource URL; `anthropic` defaults to https://api.anthropic.com;
 * `bedrock` is AWS Bedrock (Claude, and other models through Converse), `vertex` Claude on Google Vertex AI (region and
 * credentials: cloud-credentials.ts).
 */
export const PROVIDER_KINDS = [
  'openai', 'azure', 'anthropic', 'bedrock', 'vertex', 'mock',
  'groq', 'mistral', 'deepseek', 'together', 'fireworks', 'openrouter', 'xai', 'ollama', 'vllm', 'lmstudio', 'gemini',
] as const;
/** Kinds without a default base_url. */
const BASE_URL_REQUIRED: readonly string[] = ['openai', 'azure'];

const Identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier (letters, digits, _)');
/** A string that may have come from a numeric-looking env value. */
const Str = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string());
const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'a name of letters, digits and . _ : -');

export const ProviderConfig = z.object({
  kind: z.string().min(1),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  api_key: Str.optional(),
  /** Extra headers sent upstream on every call (e.g. OpenAI-Organization). */
  headers: z.record(z.string(), Str).default({}),
  /** Upstream models listed by /v1/models as `provider/model`. */
  models: z.array(z.string()).default([]),
  /** Mock provider only: simulated latency per call and between stream chunks. */
  latency_ms: z.number().nonnegative().default(0),
  /** Connections kept per upstream origin. */
  connections: z.number().int().positive().default(128),
  /** Azure only: the `api-version` query parameter (default 2024-10-21). */
  api_version: Str.optional(),
  /**
   * Azure only: `entra` sends a Microsoft Entra ID token (scope cognitiveservices) instead of
   * `api-key`: client credentials (`tenant_id`, `client_id`, `client_secret`; default
   * AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), AKS Workload Identity
   * (`federated_token_file`, default AZURE_FEDERATED_TOKEN_FILE), else the managed identity
   * (instance metadata at `imds_host`, default AZURE_POD_IDENTITY_AUTHORITY_HOST, else
   * http://169.254.169.254). `authority_host`: default AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com.
   */
  auth: z.enum(['api_key', 'entra']).optional(),
  tenant_id: Str.optional(),
  client_id: Str.optional(),
  client_secret: Str.optional(),
  federated_token_file: Str.optional(),
  authority_host: z.url({ protocol: /^https?$/ }).optional(),
  imds_host: z.url({ protocol: /^https?$/ }).optional(),
  /** bedrock: the AWS region (default AWS_REGION, then AWS_DEFAULT_REGION); vertex: the Google Cloud region or `global` (default CLOUD_ML_REGION). */
  region: Str.optional(),
  /** vertex: the Google Cloud project (default: the key file's project_id, or the metadata server's project). */
  project: Str.optional(),
  /** vertex: a service account key file (JSON; default GOOGLE_APPLICATION_CREDENTIALS, else the metadata server's service account). */
  credentials_file: Str.optional(),
  /** vertex without a key file: the GCE / GKE metadata server, host[:port] (default GCE_METADATA_HOST, else metadata.google.internal). */
  metadata_host: Str.optional(),
  /** bedrock: SigV4 credentials (default AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the default chain); `api_key` is a Bedrock API key instead. */
  aws_access_key_id: Str.optional(),
  aws_secret_access_key: Str.optional(),
  aws_session_token: Str.optional(),
  /**
   * bedrock without static keys: the AWS default credential chain is asked (profiles, IRSA web
   * identity, EKS Pod Identity / ECS container credentials, EC2 instance metadata); `aws_profile`
   * names the shared-config profile (default AWS_PROFILE), `aws_role_arn` a role assumed on top
   * of whichever credentials (session name `aws_role_session_name`, default `gatelog`).
   */
  aws_profile: Str.optional(),
  aws_role_arn: Str.optional(),
  aws_role_session_name: Str.optional(),
  /**
   * bedrock, vertex: the `anthropic-beta` values passed on (default: those the clouds document
   * for Claude; proxy/src/providers/cloud-betas.ts); `all` passes every value a client sends.
   */
  anthropic_betas: z.union([z.literal('all'), z.array(Str)]).optional(),
}).strict();
export type ProviderConfig = z.infer<typeof ProviderConfig>;

export const DeploymentConfig = z.object({
  provider: z.string().min(1),
  model: z.string().min(1),
  weight: z.number().positive().default(1),
  /**
   * Optional provider limits for this deployment. rpm: routing skips the deployment once it took
   * that many requests in the current minute (per proxy process). tpm: recorded, not enforced yet.
   */
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  /** Time one attempt on this deployment may wait for its first byte, ms (overrides the alias's and the fair share). */
  attempt_timeout_ms: z.number().int().positive().optional(),
}).strict();
export type DeploymentConfig = z.infer<typeof DeploymentConfig>;

export const ModelAlias = z.object({
  name: Name,
  deployments: z.array(DeploymentConfig).min(1),
  /** How a deployment is picked: weighted random (default), fewest in flight, lowest recent latency (EWMA). */
  strategy: z.enum(['weighted', 'least-busy', 'latency']).default('weighted'),
  /** Aliases tried in order once this alias's deployments and retries are spent. */
  fallbacks: z.array(Name).default([]),
  /** Aliases tried when the upstream says the prompt is longer than the model's context. */
  context_window_fallbacks: z.array(Name).default([]),
  /** Time one attempt on any of this alias's deployments may wait for its first byte, ms (overrides the fair share). */
  attempt_timeout_ms: z.number().int().positive().optional(),
  /** Serve repeated identical calls to this alias from the exact-match cache (see `cache`). */
  cache: z.boolean().default(false),
}).strict();
export type ModelAlias = z.infer<typeof ModelAlias>;

/** Retries, timeouts, cooldowns and keepalives of the proxy's upstream dispatch. */
export const RouterConfig = z.object({
  /** Extra attempts per alias after the first one, on retryable failures (429, 5xx, 529, network, timeouts). */
  retries: z.number().int().min(0).max(10).default(2),
  /** Exponential backoff with full jitter between attempts on the same deployment. */
  backoff: z.object({
    base_ms: z.number().int().nonnegative().default(100),
    max_ms: z.number().int().nonnegative().default(5_000),
  }).strict().prefault({}),
  timeouts: z.object({
    /** TCP/TLS connect to the upstream. */
    connect_ms: z.number().int().positive().default(10_000),
    /**
     * Per attempt: dispatch → first response body byte (bounded by total_ms). Generous by default:
     * a non-stream completion sends its first byte only once it is complete.
     */
    ttfb_ms: z.number().int().positive().default(300_000),
    /**
     * When another deployment or fallback could still be tried, an attempt without an explicit
     * attempt_timeout_ms gets at most an equal share of the call's remaining time (remaining /
     * attempts left), never less than this floor, so a hung deployment leaves its fallback time.
     */
    attempt_min_ms: z.number().int().positive().default(1_000),
    /** Longest silence between two upstream body chunks once the response is flowing. */
    idle_ms: z.number().int().positive().default(300_000),
    /** The whole call, every attempt and backoff included; per-try timeouts never go past it. */
    total_ms: z.number().int().positive().default(600_000),
  }).strict().prefault({}),
  cooldown: z.object({
    /** This many retryable failures within window_ms put a deployment in cooldown (0: never). */
    failures: z.number().int().nonnegative().default(3),
    window_ms: z.number().int().positive().default(60_000),
    /** Skipped for this long, then one request probes it. */
    cooldown_ms: z.number().int().positive().default(30_000),
  }).strict().prefault({}),
  /** SSE comment sent to the client after this much silence, so load balancers keep the stream (0: off). */
  sse_keepalive_ms: z.number().int().nonnegative().default(15_000),
}).strict();
export type RouterConfig = z.infer<typeof RouterConfig>;

// ---- Governance: team budgets, response cache, shared counters, key refresh.

export const TeamConfig = z.object({
  /** Spend cap of all the team's keys together per `period` (absent: no team budget). */
  budget_usd: z.number().positive().optional(),
  period: z.enum(['daily', 'weekly', 'monthly', 'none']).default('monthly'),
  /** Model aliases the team's keys may call (absent: any; a key's own list narrows it further). */
  models: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
  /** Requests and tokens per minute, and calls in flight, of all the team's keys together. */
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  max_parallel: z.number().int().positive().optional(),
}).strict();
export type TeamConfig = z.infer<typeof TeamConfig>;

export const CacheConfig = z.object({
  /** Aliases cached without `cache: true` on their models entry. */
  enabled_aliases: z.array(Name).default([]),
  /** In-memory LRU bound, bytes. */
  max_bytes: z.number().int().positive().default(64 << 20),
  ttl_s: z.number().int().positive().default(3600),
  /**
   * Who may share an entry: everyone, callers with the same key, or the same team (default:
   * an answer cached for one team is never served to another, which would also tell it what
   * the other team asked; keys without a team share one scope with the master key).
   */
  scope: z.enum(['global', 'key', 'team']).default('team'),
  /** Also cache calls with temperature > 0 when the alias is enabled (default: only 0 or unset). */
  allow_sampling: z.boolean().default(false),
}).strict();
export type CacheConfig = z.infer<typeof CacheConfig>;

export const KeysConfig = z.object({
  /** How often proxies reload virtual keys from the store (revocations apply within this). */
  refresh_ms: z.number().int().min(100).max(5000).default(2000),
}).strict();
export type KeysConfig = z.infer<typeof KeysConfig>;

const UNIT_RATES = ['audio_minute', 'per_1m_characters', 'image'] as const;

export const PriceOverride = z.object({
  provider: z.string().min(1),
  model: z.string().min(1),
  /** USD per million tokens; both, unless the model is billed by a unit rate below. */
  input: z.number().nonnegative().optional(),
  output: z.number().nonnegative().optional(),
  cached_input: z.number().nonnegative().optional(),
  /** 5-minute cache writes (default: input). */
  cache_write: z.number().nonnegative().optional(),
  /** 1-hour cache writes (default: 2× input, Anthropic's documented multiplier). */
  cache_write_1h: z.number().nonnegative().optional(),
  /** Image input tokens (default: input). */
  input_image: z.number().nonnegative().optional(),
  /** USD per minute of audio transcribed or translated. */
  audio_minute: z.number().nonnegative().optional(),
  /** USD per million characters turned into speech. */
  per_1m_characters: z.number().nonnegative().optional(),
  /** USD per image: one price, or by `"<quality> <size>"`, `"<size>"`, `"<quality>"` or `default` (most specific wins). */
  image: z.union([z.number().nonnegative(), z.record(z.string().min(1).max(64), z.number().nonnegative())]).optional(),
}).strict().superRefine((o, ctx) => {
  if ((o.input === undefined) !== (o.output === undefined)) {
    ctx.addIssue({ code: 'custom', path: [o.input === undefined ? 'input' : 'output'], message: 'input and output (USD per 1M tokens) go together: give both' });
  } else if (o.input === undefined && !UNIT_RATES.some((k) => o[k] !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['input'], message: `give input and output (USD per 1M tokens), or a unit rate: ${UNIT_RATES.join(', ')}` });
  }
});
export type PriceOverride = z.infer<typeof PriceOverride>;

export const StorageConfig = z.object({
  clickhouse: z.union([
    z.literal('embedded'),
    z.object({
      url: z.url({ protocol: /^https?$/ }),
      database: Identifier.default('gatelog'),
      username: Str.default('default'),
      password: Str.default(''),
    }).strict(),
  ]).default('embedded'),
  /** Embedded mode only: database name inside chDB. */
  database: Identifier.default('gatelog'),
  /**
   * Embedded mode only: how many nice levels (0–19) the embedded ClickHouse's threads (inserts,
   * merges) run below the thread serving calls, so they yield the CPU to it. 0 leaves them as is.
   */
  embedded_nice: z.number().int().min(0).max(19).default(5),
}).strict();
export type StorageConfig = z.infer<typeof StorageConfig>;

/** Record batch compression on the events topic (bus.compression). */
export const KAFKA_COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** bus.batch_bytes' default, also the Kafka publisher's when it is not given one. */
export const BUS_BATCH_BYTES = 4 << 20;

export const BusConfig = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('local'),
    /** fsync cadence of the local event log (group commit), ms. */
    fsync_ms: z.number().int().nonnegative().default(20),
    segment_bytes: z.number().int().min(1 << 16).default(64 << 20),
  }).strict(),
  z.object({
    kind: z.literal('kafka'),
    brokers: z.array(z.string().min(1)).min(1),
    topic: z.string().default('gatelog.events'),
    client_id: z.string().min(1).default('gatelog'),
    /**
     * Producer: a batch is sent after this many ms or records, whichever comes first. Each send
     * (batch build, compression, the socket write and its acknowledgement) briefly takes the
     * proxy's cores, and a call in flight at that moment waits; fewer, larger sends touch fewer
     * calls (BENCHMARKS.md, "Twelfth round": one-connection p99 0.26–0.85 ms lower than at 50 ms).
     * Events wait at most this long in the spool, where they are already durable.
     */
    batch_ms: z.number().int().positive().default(200),
    batch_records: z.number().int().positive().default(500),
    /**
     * Producer: a batch also leaves once its events reach this many bytes (before compression;
     * an event larger than this goes alone). Kafka's `max.message.bytes` limits each partition's
     * part of a send after compression: 4 MiB of JSON spread over the topic's partitions and
     * compressed with zstd fits a stock 1 MB broker in the common case. A batch the broker still
     * refuses is split, and an event it refuses on its own is sent without its bodies. 1 MiB
     * instead cost SSE calls ~7% of their throughput (smaller, more frequent sends; BENCHMARKS.md).
     */
    batch_bytes: z.number().int().positive().default(BUS_BATCH_BYTES),
    /** Producer: how long one send may take before it is retried from the spool. */
    request_timeout_ms: z.number().int().positive().default(10_000),
    /**
     * Producer: how record batches are compressed. zstd needs Kafka 2.1 or later (Produce v7,
     * Fetch v10); gzip for older brokers. Ingest reads zstd, gzip and uncompressed batches
     * whatever this says, so proxies can be switched one at a time.
     */
    compression: z.enum(KAFKA_COMPRESSIONS).default('zstd'),
    /** Proxy: the on-disk spool (under the data dir) every event goes through before Kafka. */
    spool_max_bytes: z.number().int().positive().default(1 << 30),
    /** Ingest: consumer group, and the topic that receives events failing validation. */
    group_id: z.string().min(1).default('gatelog-ingest'),
    dead_letter_topic: z.string().min(1).default('gatelog.events.dead-letter'),
  }).strict(),
]);
export type BusConfig = z.infer<typeof BusConfig>;

/**
 * A scheduled compliance export (core/src/store/scheduled-exports.ts): each period's calls,
 * written to `dir` as a file plus its manifest, and audited like any other export.
 */
export const ScheduledExportConfig = z.object({
  every: z.enum(['hourly', 'daily', 'weekly']),
  format: z.enum(['csv', 'jsonl']).default('jsonl'),
  dir: z.string().min(1),
  /** The explorer's URL parameters narrowing the export, e.g. `team=search&status=error`. */
  filter: z.string().max(2000).default(''),
  /**
   * How long a file (and its manifest) is kept after its period ends: `90d`, `12h`, `forever`.
   * Default: the body retention of the calls it can hold (store/export-expiry.ts).
   */
  keep: Duration.optional(),
}).strict();
export type ScheduledExportConfig = z.infer<typeof ScheduledExportConfig>;

export const GatelogConfig = z.object({
  server: z.object({
    port: z.number().int().min(0).max(65535).default(4000),
    /** Default: 127.0.0.1 without a master key, 0.0.0.0 with one. */
    host: z.string().optional(),
    /** Largest accepted request body, bytes. */
    body_limit: z.number().int().positive().default(20 * 1024 * 1024),
    /**
     * Host headers answered (DNS-rebinding defence): `name`, `name:port`, `*.domain`, `*`.
     * Default: localhost, 127.0.0.1 and [::1] without a master key; any host with one.
     */
    allowed_hosts: z.array(z.string().min(1).max(255).refine(isHostPattern, 'expected host, host:port, [v6]:port, *.domain or *')).max(1000).optional(),
  }).strict().default({ port: 4000, body_limit: 20 * 1024 * 1024 }),
  storage: StorageConfig.default({ clickhouse: 'embedded', database: 'gatelog', embedded_nice: 5 }),
  bus: BusConfig.default({ kind: 'local', fsync_ms: 20, segment_bytes: 64 << 20 }),
  logging: z.object({
    /**
     * Hard cap for one body: above this many bytes it is cut and flagged `truncated`. High by
     * default (16 MiB) because conversations resent on every turn are stored once, as shared
     * blocks (core/src/store/blocks.ts), not as N copies.
     */
    body_cap_bytes: z.number().int().positive().default(16 * 1024 * 1024),
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).strict().default({ body_cap_bytes: 16 * 1024 * 1024, level: 'info' }),
  ingest: z.object({
    /** An insert leaves at this many rows (or 16 MiB) or after batch_ms; larger inserts cost ClickHouse less per row. */
    batch_rows: z.number().int().positive().default(10_000),
    batch_ms: z.number().int().positive().default(1000),
  }).strict().default({ batch_rows: 10_000, batch_ms: 1000 }),
  ui: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
  /**
   * OpenAI batch jobs through gatelog (proxy/src/batches): how often batches in flight are asked
   * about upstream (with ±20% jitter; one proxy of a deployment polls at a time), so their results
   * are recorded without a client asking; and whether the files (prompts and answers) are deleted at
   * the provider once their team's `retention.calls` has passed or an erasure covers them
   * (`purge_upstream`, swept every `retention.sweep_ms` by one proxy at a time; batches/purge.ts).
   */
  batches: z.object({
    poll_ms: z.number().int().min(500).max(3_600_000).default(60_000),
    purge_upstream: z.boolean().default(true),
  }).strict().default({ poll_ms: 60_000, purge_upstream: true }),
  providers: z.record(Name, ProviderConfig).default({}),
  models: z.array(ModelAlias).default([]),
  pricing: z.array(PriceOverride).default([]),
  router: RouterConfig.prefault({}),
  /** Team budgets covering every key of the team. */
  teams: z.record(z.string().min(1).max(128), TeamConfig).default({}),
  cache: CacheConfig.prefault({}),
  state: StateConfig.prefault({}),
  keys: KeysConfig.prefault({}),
  /** What is redacted before anything is written, per alias and key (core/src/redact). */
  redaction: RedactionConfig.prefault({}),
  /** How long bodies, call rows and rollups are kept (ClickHouse TTLs; legal holds suspend them). */
  retention: RetentionConfig.prefault({}),
  /** Scheduled compliance exports, run by the proxy service (and the embedded launcher). */
  exports: z.array(ScheduledExportConfig).max(50).default([]),
  /** Alert rules, webhook channels and the evaluator's interval (core/src/alerts). */
  alerts: AlertsConfig.prefault({}),
  /** OpenTelemetry span export of every call over OTLP/HTTP (core/src/otel/config.ts); off without an endpoint. */
  otel: OtelConfig.prefault({}),
  /** Streaming of the audit trail to outside sinks (SIEM webhooks, OTLP logs): core/src/audit-stream. */
  audit: AuditConfig.prefault({}),
  /** Single sign-on to the UI (core/src/auth/oidc-config.ts): `sso.oidc`. */
  sso: SsoConfig.prefault({}),
}).strict().superRefine((cfg, ctx) => {
  const seen = new Set<string>();
  const aliases = new Set(cfg.models.map((m) => m.name));
  cfg.models.forEach((m, i) => {
    for (const field of ['fallbacks', 'context_window_fallbacks'] as const) {
      m[field].forEach((name, k) => {
        if (!aliases.has(name)) ctx.addIssue({ code: 'custom', path: ['models', i, field, k], message: `unknown alias "${name}" (aliases: ${[...aliases].join(', ')})` });
      });
    }
    if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: ['models', i, 'name'], message: `duplicate alias "${m.name}"` });
    seen.add(m.name);
    m.deployments.forEach((d, j) => {
      if (!(d.provider in cfg.providers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'deployments', j, 'provider'],
          message: `unknown provider "${d.provider}" (configured: ${Object.keys(cfg.providers).join(', ') || 'none'})`,
        });
      }
    });
  });
  for (const [name, p] of Object.entries(cfg.providers)) {
    if (!(PROVIDER_KINDS as readonly string[]).includes(p.kind)) {
      ctx.addIssue({ code: 'custom', path: ['providers', name, 'kind'], message: `expected one of ${PROVIDER_KINDS.join(', ')}, got "${p.kind}"` });
    }
    if (BASE_URL_REQUIRED.includes(p.kind) && !p.base_url) {
      ctx.addIssue({ code: 'custom', path: ['providers', name, 'base_url'], message: 'required for this provider kind' });
    }
  }
});
export type GatelogConfig = z.infer<typeof GatelogConfig>;

export class ConfigError extends Error {
  readonly code = 'GATELOG_ERR_CONFIG';
  override readonly name = 'ConfigError';
}
