// The ClickHouse users of docker/clickhouse/users.d/gatelog.xml, enforced in front of the
// ClickHouse HTTP fixture (which, being chDB, has no users): each request must name a user of
// that file with its password (from the environment, as the server reads `from_env`), and a
// user whose profile sets `readonly` may only read — anything else is refused the way the
// server refuses it (Code 164, READONLY). Every request is recorded with its user.
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ROOT } from './compose-processes.ts';

export interface UserSpec {
  passwordEnv: string;
  readonly: boolean;
}

/** Users, their password's env variable and whether their profile is read-only. */
export function usersFromXml(xml = readFileSync(join(ROOT, 'docker/clickhouse/users.d/gatelog.xml'), 'utf8')): Record<string, UserSpec> {
  const readonlyProfiles = new Set<string>();
  const profiles = /<profiles>([\s\S]*?)<\/profiles>/.exec(xml)?.[1] ?? '';
  for (const m of profiles.matchAll(/<([A-Za-z_][\w]*)>([\s\S]*?)<\/\1>/g)) if (/<readonly>\s*[12]\s*<\/readonly>/.test(m[2]!)) readonlyProfiles.add(m[1]!);
  const users: Record<string, UserSpec> = {};
  const section = /<users>([\s\S]*?)<\/users>/.exec(xml)?.[1] ?? '';
  for (const m of section.matchAll(/<([A-Za-z_][\w]*)>([\s\S]*?)<\/\1>/g)) {
    const env = /<password from_env="([^"]+)"/.exec(m[2]!)?.[1];
    const profile = /<profile>([^<]+)<\/profile>/.exec(m[2]!)?.[1] ?? 'default';
    if (env) users[m[1]!] = { passwordEnv: env, readonly: readonlyProfiles.has(profile) };
  }
  return users;
}

const READS = /^(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b/i;

export interface GateRecord {
  user: string;
  statement: string;
  refused: boolean;
}

export class ClickHouseUserGate {
  readonly records: GateRecord[] = [];
  private server: Server | undefined;
  private port = 0;

  private readonly upstream: string;
  private readonly users: Record<string, UserSpec>;
  private readonly env: Record<string, string>;

  constructor(upstream: string, users: Record<string, UserSpec>, env: Record<string, string>) {
    this.upstream = upstream;
    this.users = users;
    this.env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private deny(res: ServerResponse, status: number, code: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': String(code) }).end(`Code: ${code}. DB::Exception: ${text}\n`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/ping') return this.forward(req, res, body);
    let user = String(req.headers['x-clickhouse-user'] ?? url.searchParams.get('user') ?? 'default');
    let password = String(req.headers['x-clickhouse-key'] ?? url.searchParams.get('password') ?? '');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const text = Buffer.from(basic, 'base64').toString('utf8');
      const i = text.indexOf(':');
      [user, password] = [text.slice(0, i), text.slice(i + 1)];
    }
    const spec = this.users[user];
    if (!spec || !password || this.env[spec.passwordEnv] !== password) {
      this.deny(res, 401, 516, `${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`);
      return;
    }
    // With `query` in the URL the body is data; otherwise the body is the statement.
    const statement = (url.searchParams.get('query') ?? body.toString('utf8')).replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '');
    const refused = spec.readonly && !READS.test(statement);
    this.records.push({ user, statement: statement.slice(0, 120), refused });
    if (refused) {
      this.deny(res, 500, 164, `${user}: Cannot execute query in readonly mode. (READONLY)`);
      return;
    }
    this.forward(req, res, body);
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const up = request(`${this.upstream}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: new URL(this.upstream).host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    up.end(body);
  }
}
