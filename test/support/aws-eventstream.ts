// One AWS eventstream frame (string headers, JSON payload), as Bedrock writes them, encoded by
// the AWS codec gatelog decodes with: for the fake Bedrock's InvokeModel and Converse streams.
import { EventStreamCodec, fromUtf8, toUtf8 } from '@gatelog/proxy/providers/aws-wire';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export function eventFrame(headers: Record<string, string>, payload: unknown): Buffer {
  const h = Object.fromEntries(Object.entries(headers).map(([k, value]) => [k, { type: 'string' as const, value }]));
  return Buffer.from(codec.encode({ headers: h, body: fromUtf8(JSON.stringify(payload)) }));
}
