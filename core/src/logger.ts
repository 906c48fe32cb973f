// One pino logger per process, built by main.ts and passed down. Redaction paths cover every
// place a credential could appear, so a mistaken `log.info({ headers })` still prints no secret.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers.cookie',
  'req.headers["x-goog-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["x-amz-security-token"]',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-goog-api-key"]',
  '*.api_key',
  'api_key',
  '*.aws_secret_access_key',
  'aws_secret_access_key',
  '*.aws_session_token',
  'aws_session_token',
  // Azure Entra ID client secrets, a Vertex service account's key, ClickHouse's password, OAuth
  // tokens from an identity provider: a config or token object logged whole shows none of them.
  '*.client_secret',
  'client_secret',
  '*.private_key',
  'private_key',
  '*.password',
  'password',
  '*.access_token',
  'access_token',
  '*.refresh_token',
  'refresh_token',
  '*.id_token',
  'id_token',
  'masterKey',
];

/**
 * An error as a log field: its code and message only (a stack or a client error's attached
 * request would carry more than a warning needs).
 */
export function errorFields(err: unknown): { code: unknown; message: string } {
  return { code: (err as { code?: unknown } | null)?.code, message: err instanceof Error ? err.message : String(err) };
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'gatelog' } }, destination as pino.DestinationStream | undefined);
}
