// The AWS SDK pieces gatelog speaks Bedrock with, named in one place: the SigV4 signer with
// Node's SHA-256 (as the AWS SDK's Node runtime configures it) and the eventstream codec. The
// tests' fake Bedrock checks signatures and writes frames with these same pieces.
import { Hash } from '@smithy/core/serde';

export { SignatureV4 } from '@smithy/signature-v4';
export { EventStreamCodec, type Message } from '@smithy/core/event-streams';
export { fromUtf8, toUtf8 } from '@smithy/core/serde';

/** SHA-256 and HMAC-SHA-256 from node:crypto. */
export const sha256 = Hash.bind(null, 'sha256');
