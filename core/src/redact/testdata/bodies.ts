// Bodies the redaction bench and the equivalence test share: chat requests of a given size
// with or without personal data, and one small proxied call (request and chat.completion).
// Test-only shapes (no real people or credentials); never imported by gatelog itself.

/** A chat request of about `kb` KB, every message carrying personal data when `pii`. */
export function chatBody(kb: number, pii: boolean): string {
  const words = 'the quick brown fox jumps over the lazy dog while order 1024 ships on 2026-12-02 '.repeat(4);
  const extra = pii ? ' write to jane.doe@example.com or +1 415-555-0132, card 4111 1111 1111 1111, key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123456 ' : '';
  const messages: { role: string; content: string }[] = [];
  for (let size = 0; size < kb * 1024; size += words.length + extra.length + 30) messages.push({ role: messages.length % 2 ? 'assistant' : 'user', content: words + extra });
  return JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages });
}

/** The request of a short proxied chat call. */
export const SMALL_REQUEST = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}';

/** A ~600-byte chat.completion answering with `content`. */
export const completion = (content: string): string => JSON.stringify({
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT', object: 'chat.completion', created: 1764662400, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 14, completion_tokens: 11, total_tokens: 25,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  service_tier: 'default', system_fingerprint: 'fp_560af6e559',
});
