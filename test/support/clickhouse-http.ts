// TEST FIXTURE ONLY - docker-compose runs a real ClickHouse server in production; never point
// a deployment at this. A ClickHouse HTTP interface backed by chDB, enough for
// `@clickhouse/client`'s HTTP transport, so the distributed store path (core openStore with a
// url) runs for real in tests: queries with FORMAT, inserts with a body, settings as URL
// parameters, `param_*` query parameters, /ping, and errors the way the server reports them
// (status 500, `X-ClickHouse-Exception-Code`, "Code: N. DB::Exception: ... (NAME)" body).
// Faults: stop()/restart() on the same port (data kept), fail(on) answering every query
// with a server error, and holdInserts(on): an INSERT is written, then its response is withheld
// (a client killed in that window never learns that its rows landed).
//
// One request runs at a time: settings are applied with SET in the chDB session and reset
// afterwards, so they must not leak into a concurrent request.
import { Session } from 'chdb';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** URL parameters that are protocol, not settings. */
const NOT_SETTINGS = new Set(['query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check', 'user', 'password', 'role']);
/** Settings only the HTTP layer knows; chDB refuses them as SET. */
const HTTP_ONLY = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'enable_http_compression', 'http_zlib_compression_level', 'http_response_buffer_size']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface ChdbError {
  clickhouseCode?: number;
  message?: string;
}

/** Query parameter values arrive in ClickHouse's escaped text format. */
function unescapeParam(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' })[c] ?? c);
}

function sqlString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export class ClickHouseHttpFixture {
  readonly dir: string;
  readonly session: Session;
  /** Requests answered, by kind, for tests asserting what reached the server. */
  readonly requests: { query: string; settings: Record<string, string> }[] = [];
  private server: Server | undefined;
  private boundPort = 0;
  private sockets = new Set<Socket>();
  private queue: Promise<unknown> = Promise.resolve();
  private failing = false;
  private holding = false;
  private held: (() => void)[] = [];
  /** INSERTs written while holdInserts was on (their responses withheld until it is off). */
  heldInserts = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'gatelog-chhttp-'));
    this.session = new Session(join(this.dir, 'db'));
  }

  get url(): string {
    if (this.boundPort === 0) throw new Error('ClickHouseHttpFixture: not started');
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : 0;
    this.server = server;
  }

  /** Stop listening and drop connections (data kept; restart() reuses the port). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** While on, every query fails with a server error (the process is up, the engine is not). */
  fail(on: boolean): void {
    this.failing = on;
  }

  /** While on, an INSERT is executed (its rows are in) but its response waits until off. */
  holdInserts(on: boolean): void {
    this.holding = on;
    if (!on) for (const release of this.held.splice(0)) release();
  }

  async close(): Promise<void> {
    this.holdInserts(false);
    await this.stop();
    await this.queue.catch(() => {});
    this.session.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/ping' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const inUrl = url.searchParams.get('query');
    // With `query` in the URL the body is data (an INSERT's rows); otherwise the body is the SQL.
    const sql = inUrl !== null ? (body.length > 0 ? `${inUrl}\n${body.toString('utf8')}` : inUrl) : body.toString('utf8');
    const settings: Record<string, string> = {};
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_')) params[k.slice(6)] = unescapeParam(v);
      else if (!NOT_SETTINGS.has(k) && !HTTP_ONLY.has(k)) settings[k] = v;
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const format = url.searchParams.get('default_format') ?? 'TabSeparated';
    this.requests.push({ query: inUrl ?? sql.slice(0, 200), settings });
    const run = this.queue.then(() => this.execute(sql, settings, params, format));
    this.queue = run.catch(() => {});
    const headers = { 'x-clickhouse-query-id': queryId, 'x-clickhouse-server-display-name': 'gatelog-chdb-fixture' };
    try {
      const out = await run;
      if (this.holding && /^\s*INSERT\b/i.test(sql)) {
        this.heldInserts++;
        await new Promise<void>((r) => this.held.push(r));
      }
      res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-summary': '{"read_rows":"0","read_bytes":"0","written_rows":"0","written_bytes":"0","total_rows_to_read":"0","result_rows":"0","result_bytes":"0","elapsed_ns":"0"}' });
      res.end(out);
    } catch (err) {
      const e = err as ChdbError;
      const code = e.clickhouseCode ?? 1001;
      const text = typeof e.message === 'string' ? e.message : String(err);
      res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': String(code) });
      res.end(`${text.startsWith('Code:') ? text : `Code: ${code}. DB::Exception: ${text}. (STD_EXCEPTION)`}\n`);
    }
  }

  private async execute(sql: string, settings: Record<string, string>, params: Record<string, string>, format: string): Promise<Buffer> {
    if (this.failing) throw { clickhouseCode: 210, message: 'Code: 210. DB::Exception: Connection refused (fixture fail mode). (NETWORK_ERROR)' } satisfies ChdbError;
    const names = Object.keys(settings);
    for (const k of names) if (!NAME.test(k)) throw { clickhouseCode: 115, message: `Code: 115. DB::Exception: Unknown setting ${k}. (UNKNOWN_SETTING)` } satisfies ChdbError;
    const set = names.map((k) => `SET ${k} = ${/^-?\d+(\.\d+)?$/.test(settings[k]!) ? settings[k]! : sqlString(settings[k]!)}; `).join('');
    try {
      const full = `${set}${sql}`;
      const r = Object.keys(params).length > 0
        ? await this.session.queryBindAsync(full, params, { format })
        : await this.session.queryAsync(full, { format });
      return Buffer.from(r.bytes());
    } finally {
      if (names.length > 0) await this.session.queryAsync(names.map((k) => `SET ${k} = DEFAULT`).join('; ')).catch(() => {});
    }
  }
}
