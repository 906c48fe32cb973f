// The one place gatelog reads process.env: one zod schema per service (proxy, ingest, UI,
// embedded launcher), parsed once at start. A bad variable fails start with its name; values
// are never echoed (some are secrets). Secrets have no defaults. Everything else a deployment
// varies goes through gatelog.yaml, whose `${VAR}` references resolve against the same
// snapshot of the environment (`raw`).
import { z } from 'zod';
import { ConfigError } from './config.ts';

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const Int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ error: 'expected a number' }).int('expected a whole number').min(min, `expected ${min} or more`).max(max, `expected at most ${max}`);
const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const common = {
  /** Path of gatelog.yaml (same as --config). */
  GATELOG_CONFIG: z.string().min(1).optional(),
  /** Data directory: the embedded store and event log; a proxy's Kafka spool. */
  GATELOG_DATA_DIR: z.string().min(1).default('./data'),
  /** Admin key (bootstrap and break-glass); required to listen beyond loopback. */
  GATELOG_MASTER_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Overrides logging.level. */
  GATELOG_LOG_LEVEL: LogLevel.optional(),
};

export const ProxyEnv = z.object({
  ...common,
  /**
   * How many proxy replicas this deployment runs (a Deployment's replica count). Above 1
   * without state.redis, rate limits and budget reservations hold per replica: said at start.
   */
  GATELOG_PROXY_REPLICAS: Int(1, 10_000).default(1),
});
export type ProxyEnv = z.infer<typeof ProxyEnv>;

export const IngestEnv = z.object({
  ...common,
  /** /healthz and /metrics. */
  GATELOG_INGEST_PORT: Int(0, 65535).default(4001),
  GATELOG_INGEST_HOST: z.string().min(1).default('0.0.0.0'),
  /** Kafka consumer group session timeout: how soon a dead worker's partitions move (kafkajs default 30 s). */
  GATELOG_INGEST_SESSION_TIMEOUT_MS: Int(1000, 300_000).optional(),
});
export type IngestEnv = z.infer<typeof IngestEnv>;

export const UiEnv = z.object({
  ...common,
  /** The proxy whose admin API performs the UI's writes (keys, export audit rows). */
  GATELOG_ADMIN_URL: HttpUrl.optional(),
});
export type UiEnv = z.infer<typeof UiEnv>;

export const EmbeddedEnv = z.object({
  ...common,
  /** Directory of the UI build (default ui/build next to the CLI). */
  GATELOG_UI_BUILD: z.string().min(1).optional(),
});
export type EmbeddedEnv = z.infer<typeof EmbeddedEnv>;

export type RawEnv = Readonly<Record<string, string | undefined>>;

export interface ServiceEnv<T> {
  /** The service's own variables, validated. */
  vars: T;
  /** The whole environment, for `${VAR}` in gatelog.yaml and provider defaults. */
  raw: RawEnv;
}

/** `GATELOG_INGEST_PORT: expected a whole number; GATELOG_ADMIN_URL: …` — names, never values. */
function describe(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`).join('\n');
}

/**
 * Parse `schema` from the environment (an empty variable counts as unset). Throws a
 * ConfigError naming every bad variable.
 */
export function readServiceEnv<S extends z.ZodObject>(schema: S, source: RawEnv = process.env): ServiceEnv<z.output<S>> {
  const raw: Record<string, string | undefined> = { ...source };
  const mine = Object.fromEntries(Object.keys(schema.shape).flatMap((k) => (raw[k] ? [[k, raw[k]]] : [])));
  const r = schema.safeParse(mine);
  if (!r.success) throw new ConfigError(`invalid environment variable\n${describe(r.error)}`);
  return { vars: r.data, raw };
}

/**
 * The environment as the admin commands (`gatelog keys|users|audit|export|…`) see it: they read
 * only GATELOG_MASTER_KEY, GATELOG_CONFIG and GATELOG_DATA_DIR, each where it is used, and pass
 * the rest to `${VAR}` in gatelog.yaml.
 */
export const commandEnv = (): RawEnv => process.env;

export const proxyEnv = (source?: RawEnv): ServiceEnv<ProxyEnv> => readServiceEnv(ProxyEnv, source);
export const ingestEnv = (source?: RawEnv): ServiceEnv<IngestEnv> => readServiceEnv(IngestEnv, source);
export const uiEnv = (source?: RawEnv): ServiceEnv<UiEnv> => readServiceEnv(UiEnv, source);
export const embeddedEnv = (source?: RawEnv): ServiceEnv<EmbeddedEnv> => readServiceEnv(EmbeddedEnv, source);
