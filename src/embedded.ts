// The embedded launcher: proxy, ingest and UI in one process on one port, with the durable
// local event log as the bus and chDB as the store. Distributed mode runs the same pieces
// as separate services; only the bus adapter and the ClickHouse connection differ.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, LOG_TAIL_BYTES, LocalLogWriter, encodeEvent, lowerBackgroundThreads, migrate, openStore, startRetention, type GatelogConfig, type LlmCallEvent, type Logger } from '@gatelog/core';
import { provideUiContext, type UiContext } from '@gatelog/core/ui-context';
import { lockDataDir } from '@gatelog/core/data-dir-lock';
import { buildProxy, isBatchRootPath, OPENAI_ROOT_PATHS } from '@gatelog/proxy';
import { hostCheckFor, hostRefusal } from '@gatelog/proxy/host-guard';
import { createIngest } from '@gatelog/ingest';

type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

export interface EmbeddedOptions {
  config: GatelogConfig;
  dataDir: string;
  masterKey: string | undefined;
  logger: Logger;
  port?: number | undefined;
  host?: string | undefined;
  /** Directory of the SvelteKit adapter-node build (contains handler.js). */
  uiBuildDir: string;
}

export interface Embedded {
  url: string;
  close(): Promise<void>;
}

const PROTO_HEADER = 'x-gatelog-proto';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Paths answered by the proxy; everything else is the UI's. */
/** The model API's paths also answered without `/v1` (proxy/src/routes/openai.ts); Azure's are under /openai/deployments/. */
const ROOT_API: ReadonlySet<string> = new Set(OPENAI_ROOT_PATHS);

export function isProxyPath(url: string | undefined): boolean {
  if (!url) return true;
  return (
    url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?') ||
    url.startsWith('/healthz') || url.startsWith('/readyz') || url.startsWith('/metrics') || url.startsWith('/admin/') ||
    url.startsWith('/scim/') ||
    url.startsWith('/openai/deployments/') || url.startsWith('/models/') || ROOT_API.has(url.split('?', 1)[0]!) ||
    isBatchRootPath(url)
  );
}

function resolveHost(opts: EmbeddedOptions): string {
  const host = opts.host ?? opts.config.server.host ?? (opts.masterKey ? '0.0.0.0' : '127.0.0.1');
  if (!opts.masterKey && !LOOPBACK.has(host)) {
    throw new ConfigError(`server.host: refusing to listen on ${host} without GATELOG_MASTER_KEY (anyone on the network could use your provider keys); set GATELOG_MASTER_KEY or bind 127.0.0.1`);
  }
  return host;
}

async function loadUi(opts: EmbeddedOptions, ctx: UiContext): Promise<NodeHandler | undefined> {
  if (!opts.config.ui.enabled) return undefined;
  const entry = join(resolve(opts.uiBuildDir), 'handler.js');
  if (!existsSync(entry)) {
    opts.logger.warn({ entry }, 'UI build not found; serving the API only (run `npm start` to build it)');
    return undefined;
  }
  // The UI is a separately built bundle; it finds the store this process opened here. The
  // scheme reaches it in PROTO_HEADER, the header its build reads by default (ui/vite.config.ts).
  provideUiContext(ctx);
  const mod = (await import(pathToFileURL(entry).href)) as { handler: NodeHandler };
  return mod.handler;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<Embedded> {
  const { config, logger } = opts;
  const host = resolveHost(opts);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // One process per data dir (its event log and store): a second one stops here, named.
  const lock = await lockDataDir(dataDir);

  const store = await openStore(config.storage, dataDir);
  const applied = await migrate(store);
  if (applied.length) logger.info({ applied }, 'schema migrations applied');
  // Retention TTLs (applied where the config changed them) and the sweep of the data dir's copies.
  const retention = await startRetention({ store, retention: config.retention, auditSinks: config.audit.sinks.map((s) => s.name), dataDir, logger });
  // chDB's inserts and merges run on threads of this process: they must not take the CPU from
  // the requests (they still get every idle cycle, and the event log holds what they have not
  // caught up with yet). Lowered once the schema is in place: before any request is served,
  // the DDL every start waits for would otherwise queue behind whatever else the host runs.
  const background = config.storage.clickhouse === 'embedded'
    ? lowerBackgroundThreads({ nice: config.storage.embedded_nice, onError: (err) => logger.warn({ err }, 'could not lower the embedded store\'s thread priority') })
    : null;

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const published = new Counter({ name: 'gatelog_events_published_total', help: 'Call events appended to the event log', registers: [registry] });
  const publishFailed = new Counter({ name: 'gatelog_events_publish_failed_total', help: 'Call events that could not be appended (disk full or I/O error)', registers: [registry] });

  const bus = config.bus.kind === 'local' ? config.bus : { fsync_ms: 20, segment_bytes: 64 << 20 };
  const logDir = join(dataDir, 'events');
  const writer = new LocalLogWriter({
    dir: logDir,
    fsyncMs: bus.fsync_ms,
    segmentBytes: bus.segment_bytes,
    onError: (err) => logger.error({ err }, 'event log fsync failed'),
    // Ingest, in this process, takes just-appended events from memory while it keeps up.
    tailBytes: LOG_TAIL_BYTES,
  });
  if (writer.tornBytes > 0) logger.warn({ bytes: writer.tornBytes }, 'event log: cut a torn last record left by a crash');

  // Readiness reflects real state: the store answered its last ping, and the event log took
  // its last append (a full disk makes it fail until space returns).
  let storeUp = true;
  let lastAppendFailed = false;
  const pingStore = (): void => {
    store.client.ping().then(
      (r) => {
        storeUp = r.success;
      },
      () => {
        storeUp = false;
      },
    );
  };
  const pinger = setInterval(pingStore, 5_000);
  pinger.unref();

  const appended = (event: LlmCallEvent, err: unknown): void => {
    if (err === null) {
      published.inc();
      lastAppendFailed = false;
      return;
    }
    // Loud, counted, never thrown into the request path.
    lastAppendFailed = true;
    publishFailed.inc();
    logger.error({ err, request_id: event.request_id }, 'could not append call event to the event log');
  };
  const publish = (event: LlmCallEvent): void => {
    try {
      writer.append(encodeEvent(event));
      appended(event, null);
    } catch (err) {
      appended(event, err);
    }
  };
  // The relay's path: the events of one turn of the event loop in one write; each response
  // ends once its event is in the log.
  const publishBatched = (event: LlmCallEvent, written: () => void): void => {
    try {
      writer.appendBatched(encodeEvent(event), (err) => {
        appended(event, err);
        written();
      });
    } catch (err) {
      appended(event, err);
      written();
    }
  };

  const ingest = await createIngest({ config, store, logger, registry, source: { kind: 'local', dataDir, notify: (listener) => writer.onAppend(listener), tail: writer.tail } });

  // The proxy's paths are checked by its own hook (buildProxy); the UI's here.
  const hostCheck = hostCheckFor(config, opts.masterKey);
  const ui = await loadUi(opts, { store, masterKey: opts.masterKey, teamBudgets: config.teams, oidc: config.sso.oidc, scim: config.sso.scim });
  const serverFactory = (proxyHandler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
    createServer((req, res) => {
      if (ui && !isProxyPath(req.url)) {
        if (hostCheck && !hostCheck(req.headers.host)) {
          const r = hostRefusal(req.url);
          res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' }).end(r.body);
          return;
        }
        // Overwrite whatever the client sent; trust only a TLS-terminating proxy's x-forwarded-proto.
        req.headers[PROTO_HEADER] = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
        ui(req, res);
      }
      else proxyHandler(req, res);
    });

  const app = await buildProxy({
    config,
    publish,
    publishBatched,
    logger,
    registry,
    masterKey: opts.masterKey,
    store,
    serverFactory,
    readiness: () => ({ store: storeUp, event_log: !lastAppendFailed }),
    dataDir,
  });
  const port = opts.port ?? config.server.port;
  await app.listen({ port, host });
  const addr = app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${actualPort}`;
  if (!opts.masterKey) logger.warn('GATELOG_MASTER_KEY is not set: the API and UI are open to anyone who can reach 127.0.0.1');
  logger.info({ url, ui: ui ? `${url}/` : null, data_dir: dataDir }, 'gatelog listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        clearInterval(pinger);
        background?.stop();
        retention.stop();
        await app.close();
        await ingest.stop();
        writer.close();
        await store.close();
        lock.release();
      })();
      return closing;
    },
  };
}
