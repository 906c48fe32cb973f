// Cost of redaction per KB of body (BENCHMARKS.md, "Redaction"): typical chat bodies with and
// without personal data, and adversarial inputs at growing sizes to show the scan stays linear.
// Run: node --disable-warning=ExperimentalWarning core/src/redact/redact-bench.ts
import { createPrivacy, RedactionConfig } from './policy.ts';
import { chatBody as body, completion, SMALL_REQUEST } from './testdata/bodies.ts';

const privacy = createPrivacy(RedactionConfig.parse({ custom: [{ name: 'ORDER', pattern: 'ORD-[0-9]{7}' }] }));
const LOG = { forward: false, store: 'redacted' } as const;

function measure(name: string, text: string, cap = 1 << 30): void {
  const kb = Buffer.byteLength(text) / 1024;
  const reps = Math.max(3, Math.round(20_000 / kb));
  for (let i = 0; i < Math.min(reps, 50); i++) privacy.stored(LOG, privacy.call(), { request: text, response: '', error: '' }, cap);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) privacy.stored(LOG, privacy.call(), { request: text, response: '', error: '' }, cap);
  const ms = (performance.now() - t0) / reps;
  console.log(`${name.padEnd(44)} ${kb.toFixed(0).padStart(6)} KB  ${(ms * 1000).toFixed(0).padStart(8)} µs/body  ${((ms * 1000) / kb).toFixed(1).padStart(6)} µs/KB`);
}

// One proxied call as the proxy stores it (default config: built-in detectors only, no custom
// pattern): a short chat request and a ~600-byte chat.completion answer, no personal data.
const SMALL_RESPONSE = completion('Hello there, it is nice to meet you today!');
const proxyPrivacy = createPrivacy(RedactionConfig.parse({}));
{
  const texts = { request: SMALL_REQUEST, response: SMALL_RESPONSE, error: '' };
  const reps = 200_000;
  for (let i = 0; i < 20_000; i++) proxyPrivacy.stored(LOG, proxyPrivacy.call(), texts, 16 << 20);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) proxyPrivacy.stored(LOG, proxyPrivacy.call(), texts, 16 << 20);
  const us = ((performance.now() - t0) / reps) * 1000;
  const bytes = SMALL_REQUEST.length + SMALL_RESPONSE.length;
  console.log(`${'small call (request + answer), default config'.padEnd(44)} ${bytes.toString().padStart(6)} B   ${us.toFixed(1).padStart(8)} µs/call`);
}
measure('chat body, no personal data', body(2, false));
measure('chat body, personal data in every message', body(2, true));
measure('chat body, no personal data', body(64, false));
measure('chat body, personal data in every message', body(64, true));
for (const kb of [16, 256, 1024]) {
  const n = kb * 1024;
  measure('adversarial: digits and spaces', JSON.stringify({ c: '4 '.repeat(n / 2) }));
  measure('adversarial: local-part characters, @ at the end', JSON.stringify({ c: `${'a.'.repeat(n / 2)}@` }));
  measure('adversarial: hex and colons', JSON.stringify({ c: 'ab:'.repeat(n / 3) }));
  measure('adversarial: sk- prefixes', JSON.stringify({ c: 'sk-'.repeat(n / 3) }));
}
measure('20 MB body, stored copy capped at 256 KiB', body(20 * 1024, true), 256 * 1024);
