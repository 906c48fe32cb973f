// A fake Bedrock runtime for tests: node:http on 127.0.0.1, port 0, speaking InvokeModel's
// wire format for Anthropic models. Every request's SigV4 signature is recomputed with the AWS
// signer from what arrived (or its Bedrock API key checked); a bad one is answered 403 as AWS
// does. Bodies must be Bedrock's (`anthropic_version`, no `model`, no `stream`). Answers: the
// Messages JSON; streams as binary eventstream frames (`chunk` events carrying base64 Anthropic
// events, the last with amazon-bedrock-invocationMetrics), written in pieces that split frames;
// exceptions in the stream or as HTTP errors with `x-amzn-errortype`; CountTokens. Converse and
// ConverseStream (other models) as fake-bedrock-converse.ts answers them.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { fakeControls, listenOnLoopback, type FakeControls } from './loopback.ts';
import { SignatureV4, sha256 } from '@gatelog/proxy/providers/aws-wire';
import { eventFrame } from './aws-eventstream.ts';
import { FAKE_ANTHROPIC_USAGE, contentBlocks, lastUserText, streamEvents, type StreamEvent } from './fake-anthropic.ts';
import { converseAnswer, converseProblem, converseStreamFrames, type ConverseBehaviour } from './fake-bedrock-converse.ts';

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface FakeBedrockBehaviour {
  /** Answer this HTTP error: status, exception name (x-amzn-errortype) and message. */
  error?: { status: number; exception: string; message?: string };
  /** Stream: send this exception frame after `after` events (0: before anything). */
  exception?: { name: string; after: number; message?: string };
  /** Stream: corrupt the CRC of the frame at this index. */
  badCrcAt?: number;
  /** Answer with a tool_use block. */
  toolUse?: { name: string; input: Record<string, unknown> };
  /** Converse: the stopReason to report. */
  stopReason?: string;
}

export interface BedrockRequest {
  path: string;
  /** The model id from the path, decoded. */
  modelId: string;
  action: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The signature matched (or the API key did). */
  verified: boolean;
}

/** `url` is the base_url for a `bedrock` provider. */
export type FakeBedrock = FakeControls<FakeBedrockBehaviour, BedrockRequest>;

export const FAKE_REGION = 'us-east-1';

/** Bedrock's model id → the Anthropic model name its answers report. */
export const bedrockReportedModel = (id: string): string => id.replace(/^(?:us|eu|apac|global)\./, '').replace(/^anthropic\./, '').replace(/-v\d+:\d+$/, '');

/** A `chunk` event carrying one Anthropic stream event. */
export const chunkFrame = (event: unknown): Buffer =>
  eventFrame({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, { bytes: Buffer.from(JSON.stringify(event)).toString('base64'), p: 'abcdefghij' });

/** An exception frame (`throttlingException`, `modelStreamErrorException`, …). */
export const exceptionFrame = (name: string, message: string): Buffer =>
  eventFrame({ ':exception-type': name, ':content-type': 'application/json', ':message-type': 'exception' }, { message });

/** Is the request's SigV4 Authorization the one the AWS signer computes from what arrived? */
async function signatureMatches(keys: AwsKeys, port: number, method: string, url: string, headers: IncomingHttpHeaders, body: string): Promise<boolean> {
  const auth = headers['authorization'];
  const date = headers['x-amz-date'];
  if (typeof auth !== 'string' || typeof date !== 'string') return false;
  const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const signed: Record<string, string> = {};
  for (const n of signedNames) {
    const v = headers[n];
    if (typeof v === 'string') signed[n] = v;
  }
  // The signer trusts a payload hash header as given: it is recomputed from the body instead.
  delete signed['x-amz-content-sha256'];
  const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signer = new SignatureV4({ service: 'bedrock', region: FAKE_REGION, credentials: keys, sha256 });
  const [path, query] = url.split('?');
  const expected = await signer.sign(
    { method, protocol: 'http:', hostname: '127.0.0.1', port, path: path!, query: Object.fromEntries(new URLSearchParams(query ?? '')), headers: signed, body },
    { signingDate },
  );
  return expected.headers['authorization'] === auth;
}

/** Temporary credentials someone issued (a fake credential source): found by access key id, refused once expired. */
export interface TemporaryKeys {
  keysFor(accessKeyId: string): (AwsKeys & { expiresAt: number }) | undefined;
}

/** `auth`: AWS keys whose signature is required, temporary keys from a fake credential source, or a Bedrock API key expected as Bearer. */
export async function startFakeBedrock(auth: AwsKeys | TemporaryKeys | { apiKey: string }): Promise<FakeBedrock> {
  let behaviour: FakeBedrockBehaviour = {};
  const requests: BedrockRequest[] = [];
  let port = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8'), res));
  });

  const fail = (res: ServerResponse, status: number, exception: string, message: string): void => {
    const text = JSON.stringify({ message });
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-req-err', 'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
    res.end(text);
  };

  async function handle(method: string, url: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): Promise<void> {
    const id = /Credential=([A-Z0-9]+)\//.exec(String(headers['authorization'] ?? ''))?.[1] ?? '';
    const keys = 'apiKey' in auth ? undefined : 'keysFor' in auth ? auth.keysFor(id) : auth;
    if (keys && 'expiresAt' in keys && typeof keys.expiresAt === 'number' && keys.expiresAt <= Date.now()) {
      requests.push({ path: url, modelId: '', action: '', headers, body: {}, verified: false });
      return fail(res, 403, 'ExpiredTokenException', 'The security token included in the request is expired');
    }
    const verified = 'apiKey' in auth
      ? headers['authorization'] === `Bearer ${auth.apiKey}`
      : keys !== undefined && await signatureMatches(keys, port, method, url, headers, raw) && (keys.sessionToken === undefined || headers['x-amz-security-token'] === keys.sessionToken);
    const m = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|count-tokens|converse|converse-stream)$/.exec(url);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // left empty: refused below
    }
    const entry: BedrockRequest = { path: url, modelId: m ? decodeURIComponent(m[1]!) : '', action: m?.[2] ?? '', headers, body, verified };
    requests.push(entry);
    // As AWS does, the refusal quotes the canonical request, session token included.
    if (!verified) {
      const token = headers['x-amz-security-token'];
      return fail(res, 403, 'InvalidSignatureException', `The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n${url}\n\nhost:${headers['host'] ?? ''}\nx-amz-security-token:${typeof token === 'string' ? token : ''}'`);
    }
    if (!m || method !== 'POST') return fail(res, 404, 'UnknownOperationException', `no route ${method} ${url}`);
    const b = behaviour;
    if (b.error) return fail(res, b.error.status, b.error.exception, b.error.message ?? `fake ${b.error.exception}`);
    if (entry.action === 'count-tokens') {
      const inner = (body['input'] as { invokeModel?: { body?: string } } | undefined)?.invokeModel?.body;
      const invoke = inner ? (JSON.parse(Buffer.from(inner, 'base64').toString('utf8')) as Record<string, unknown>) : {};
      if (invoke['anthropic_version'] !== 'bedrock-2023-05-31') return fail(res, 400, 'ValidationException', 'invokeModel body needs anthropic_version');
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-req-count' });
      return void res.end(JSON.stringify({ inputTokens: 17 + JSON.stringify(invoke['messages']).length }));
    }
    if (entry.action.startsWith('converse')) {
      const problem = converseProblem(body);
      if (problem !== null) return fail(res, 400, 'ValidationException', problem);
      const cb: ConverseBehaviour = { ...(b.toolUse ? { toolUse: b.toolUse } : {}), ...(b.stopReason !== undefined ? { stopReason: b.stopReason } : {}) };
      if (entry.action === 'converse') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-req-converse' });
        return void res.end(JSON.stringify(converseAnswer(body, cb)));
      }
      return writeFrames(res, converseStreamFrames(body, cb), b);
    }
    if (body['anthropic_version'] !== 'bedrock-2023-05-31') return fail(res, 400, 'ValidationException', 'Malformed input request: anthropic_version is required');
    if ('model' in body || 'stream' in body) return fail(res, 400, 'ValidationException', 'Malformed input request: extraneous key [model/stream] is not permitted');
    const model = bedrockReportedModel(entry.modelId);
    const blocks = contentBlocks({ ...(b.toolUse ? { toolUse: b.toolUse } : {}) }, b.toolUse ? '' : `Fake reply to: ${lastUserText(body)}`);
    const stop = b.toolUse ? 'tool_use' : 'end_turn';
    if (entry.action === 'invoke') {
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-req-1', 'x-amzn-bedrock-input-token-count': '30' });
      return void res.end(JSON.stringify({ id: 'msg_bdrk_1', type: 'message', role: 'assistant', model, content: blocks, stop_reason: stop, stop_sequence: null, usage: { ...FAKE_ANTHROPIC_USAGE } }));
    }
    const events: StreamEvent[] = streamEvents(model, blocks, FAKE_ANTHROPIC_USAGE, stop, false, false);
    const last = events[events.length - 1]!;
    last['amazon-bedrock-invocationMetrics'] = { inputTokenCount: 30, outputTokenCount: 12, invocationLatency: 321, firstByteLatency: 123 };
    return writeFrames(res, events.map(chunkFrame), b);
  }

  /** The frames as a stream answer, with the behaviour's exception or bad CRC, in pieces that straddle frames. */
  async function writeFrames(res: ServerResponse, frames: Buffer[], b: FakeBedrockBehaviour): Promise<void> {
    if (b.exception) frames.splice(b.exception.after, frames.length, exceptionFrame(b.exception.name, b.exception.message ?? `fake ${b.exception.name}`));
    if (b.badCrcAt !== undefined) {
      const f = frames[b.badCrcAt]!;
      f.writeUInt32BE((f.readUInt32BE(f.length - 4) + 1) >>> 0, f.length - 4);
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake-req-stream', 'x-amzn-bedrock-content-type': 'application/json' });
    // The reader has to join and cut them itself.
    const all = Buffer.concat(frames);
    for (let i = 0; i < all.length && !res.destroyed; i += 37) {
      res.write(all.subarray(i, i + 37));
      if (i % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    res.end();
  }

  const listening = await listenOnLoopback(server);
  port = listening.port;
  const keep = (b: typeof behaviour): void => {
    behaviour = b;
  };
  return fakeControls(listening, requests, keep, {});
}
