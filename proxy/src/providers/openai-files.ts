// OpenAI's Files and Batches APIs on an OpenAI-compatible upstream (kinds with `batches` in
// presets.ts): OpenAI at `{base}/files…`, Azure OpenAI at `{endpoint}/openai/files…?api-version=`
// with `api-key` (or an Entra ID token). Objects are read whole up to the caller's bound; a
// file's content is streamed.
import type { Dispatcher, Pool } from 'undici';
import { Readable } from 'node:stream';
import type { FilesApi, FilesRequest, FilesResponse, FilesStream } from './types.ts';
import { TokenError, sendWithToken, type AccessTokens } from './upstream-auth.ts';

/** An upstream answer longer than the caller's bound (a file too large to record). */
export class AnswerTooLargeError extends Error {
  override readonly name = 'AnswerTooLargeError';
  readonly code = 'GATELOG_ERR_ANSWER_TOO_LARGE';
  constructor(maxBytes: number) {
    super(`the upstream answer is longer than ${maxBytes} bytes`);
  }
}

/** The body read whole; past `maxBytes` the request is aborted and AnswerTooLargeError thrown. */
export async function readBounded(body: Readable, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > maxBytes) {
      body.destroy();
      throw new AnswerTooLargeError(maxBytes);
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

export interface OpenAiFilesOptions {
  pool: Pool;
  /** The base URL's path, no trailing slash. */
  basePath: string;
  /** Azure's `api-version`, or undefined for OpenAI's own layout. */
  azureApiVersion: string | undefined;
  /** The provider's headers with its credential (never the client's). */
  headers: Readonly<Record<string, string>>;
  tokens: AccessTokens | null;
}

export function openAiFiles(o: OpenAiFilesOptions): FilesApi {
  const pathOf = (r: FilesRequest): string => {
    const q = new URLSearchParams(r.query);
    if (o.azureApiVersion !== undefined) q.set('api-version', o.azureApiVersion);
    const qs = q.toString();
    return `${o.basePath}${o.azureApiVersion !== undefined ? '/openai' : ''}${r.path}${qs ? `?${qs}` : ''}`;
  };
  const open = async (r: FilesRequest): Promise<FilesStream> => {
    const headers: Record<string, string> = { ...o.headers };
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    else if (r.body === undefined) delete headers['content-type'];
    const req = (h: Record<string, string>): Promise<Dispatcher.ResponseData> => o.pool.request({ method: r.method, path: pathOf(r), headers: h, body: r.body ?? null });
    let res: Dispatcher.ResponseData;
    try {
      res = o.tokens ? await sendWithToken(o.tokens, (token) => req({ ...headers, authorization: `Bearer ${token}` })) : await req(headers);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const body = JSON.stringify({ error: { message: err.message, type: err.status >= 500 ? 'upstream_error' : 'authentication_error', param: null, code: 'upstream_auth' } });
      return { status: err.status, contentType: 'application/json', body: Readable.from([Buffer.from(body)]) };
    }
    const ct = res.headers['content-type'];
    return { status: res.statusCode, contentType: typeof ct === 'string' ? ct : 'application/octet-stream', body: res.body };
  };
  const send = async (r: FilesRequest, maxBytes: number): Promise<FilesResponse> => {
    const res = await open(r);
    return { ...res, body: await readBounded(res.body, maxBytes) };
  };
  return { send, stream: open };
}
