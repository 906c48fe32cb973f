// OpenAI chat over Bedrock's Converse API: the request translated (converse-request.ts), sent by
// the Bedrock adapter's one signed POST, the answer (JSON, or the stream's events as SSE)
// translated back to OpenAI's wire format. Failures arrive already in OpenAI's error shape.
import { randomUUID } from 'node:crypto';
import { isTranslateError, translateErrorToOpenAI, wantsStreamUsage } from '../translate/index.ts';
import type { UpstreamCall, UpstreamResponse } from './types.ts';
import { openaiToConverseRequest } from './converse-request.ts';
import { converseToOpenAIResponse, openaiErrorOf } from './converse-response.ts';
import { ConverseToOpenAIStream } from './converse-stream.ts';
import type { BedrockError } from './bedrock-stream.ts';
import { jsonResponse, parseJson, readAll, refuse, tokensFromNormalized, translatedSse } from './wire.ts';

/** POSTs one Converse body for `c` (to converse or converse-stream); failures in OpenAI's error shape. */
export type ConverseSend = (c: UpstreamCall, body: string) => Promise<UpstreamResponse>;

export const CONVERSE_API = 'bedrock.converse';

/** A Bedrock failure as the body of OpenAI's error answer. */
export const converseErrorJson = (e: BedrockError): string => JSON.stringify(openaiErrorOf(e));

export async function chatViaConverse(send: ConverseSend, c: UpstreamCall): Promise<UpstreamResponse> {
  let request;
  try {
    request = openaiToConverseRequest(c.json);
  } catch (err) {
    refuse(err);
  }
  const up = await send(c, JSON.stringify(request));
  if (up.status >= 400) return { ...up, upstreamApi: CONVERSE_API };
  // Converse names no answer id: Bedrock's request id stands for it.
  const requestId = up.headers['x-amzn-requestid'];
  const meta = { id: `chatcmpl-${typeof requestId === 'string' ? requestId : randomUUID()}`, model: c.model, created: Math.floor(Date.now() / 1000) };
  if (c.stream) return translatedSse(up, new ConverseToOpenAIStream({ ...meta, includeUsage: wantsStreamUsage(c.json) }), CONVERSE_API);
  const raw = parseJson(await readAll(up.body));
  try {
    const out = converseToOpenAIResponse(raw, meta);
    return jsonResponse(up.status, out.body, { upstreamApi: CONVERSE_API, tokens: () => (out.usage ? tokensFromNormalized(out.usage) : null) });
  } catch (err) {
    if (!isTranslateError(err)) throw err;
    const e = translateErrorToOpenAI(err);
    return jsonResponse(e.status, e.body, { upstreamApi: CONVERSE_API });
  }
}
