// Provider kinds as data. An OpenAI-compatible preset is a row (default base URL, price id,
// how its API spells max tokens), not an adapter; `azure` and `anthropic` have their own
// adapters but their defaults live here too.
import type { UpstreamApi } from './types.ts';

export interface KindPreset {
  /** Adapter that speaks to this kind. */
  adapter: 'openai' | 'azure' | 'anthropic' | 'bedrock' | 'vertex' | 'mock';
  /** base_url when the config gives none (undefined: base_url is required). */
  baseUrl: string | undefined;
  /** genai-prices provider id (undefined: price by model name alone). */
  priceProviderId: string | undefined;
  /** Field for the output limit when translating an Anthropic request to OpenAI chat. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /**
   * OpenAI endpoints past chat, completions, embeddings and Responses that this kind serves in
   * OpenAI's wire shape (its docs say so); any other kind answers them 400 before sending.
   */
  extras?: readonly OpenAiExtraApi[];
  /**
   * The kind serves OpenAI's Files and Batches APIs (batch jobs at half price): only OpenAI's and
   * Azure OpenAI's own services have them in OpenAI's wire shape.
   */
  batches?: true;
}

/**
 * Images, moderation and audio: the OpenAI APIs past chat, completions, embeddings and
 * Responses, served only by the kinds that list them in `extras`.
 */
export type OpenAiExtraApi = Exclude<Extract<UpstreamApi, `openai.${string}`>, 'openai.chat' | 'openai.completions' | 'openai.embeddings' | 'openai.responses'>;

const compat = (baseUrl: string | undefined, priceProviderId: string | undefined, extras?: readonly OpenAiExtraApi[]): KindPreset =>
  ({ adapter: 'openai', baseUrl, priceProviderId, maxTokensField: 'max_tokens', ...(extras ? { extras } : {}) });
const IMAGES: readonly OpenAiExtraApi[] = ['openai.images'];
const AUDIO: readonly OpenAiExtraApi[] = ['openai.audio.transcriptions', 'openai.audio.translations', 'openai.audio.speech'];
// Variations are DALL·E 2's alone: OpenAI serves them, Azure (no DALL·E 2) does not.
const ALL: readonly OpenAiExtraApi[] = ['openai.images', 'openai.images.edits', 'openai.images.variations', 'openai.moderations', ...AUDIO];

export const KIND_PRESETS: Readonly<Record<string, KindPreset>> = {
  // Plain `openai` is "any OpenAI-compatible server": base_url is explicit. Priced as OpenAI only
  // when it points at api.openai.com (see priceIdFor).
  openai: { adapter: 'openai', baseUrl: undefined, priceProviderId: undefined, maxTokensField: 'max_completion_tokens', extras: ALL, batches: true },
  // https://console.groq.com/docs/speech-to-text — Whisper at /openai/v1/audio/transcriptions
  // and /audio/translations, in OpenAI's multipart shape.
  groq: compat('https://api.groq.com/openai/v1', 'groq', ['openai.audio.transcriptions', 'openai.audio.translations']),
  mistral: compat('https://api.mistral.ai/v1', 'mistral'),
  deepseek: compat('https://api.deepseek.com/v1', 'deepseek'),
  together: compat('https://api.together.xyz/v1', 'together', IMAGES),
  fireworks: compat('https://api.fireworks.ai/inference/v1', 'fireworks'),
  openrouter: compat('https://openrouter.ai/api/v1', 'openrouter'),
  xai: compat('https://api.x.ai/v1', 'x-ai', IMAGES),
  // Local servers: no key needed, priced by model name when the name is known.
  ollama: compat('http://127.0.0.1:11434/v1', undefined),
  vllm: compat('http://127.0.0.1:8000/v1', undefined),
  lmstudio: compat('http://127.0.0.1:1234/v1', undefined),
  // https://ai.google.dev/gemini-api/docs/openai — Bearer auth with the Gemini API key.
  // Its OpenAI layer serves images.generate (Imagen) but no moderations.
  gemini: compat('https://generativelanguage.googleapis.com/v1beta/openai', 'google', IMAGES),
  // DALL·E / gpt-image (generations; edits for gpt-image-1), Whisper / gpt-4o-transcribe and TTS
  // deployments; Azure has content filters, not a moderations endpoint.
  azure: { adapter: 'azure', baseUrl: undefined, priceProviderId: 'azure', maxTokensField: 'max_completion_tokens', extras: [...IMAGES, 'openai.images.edits', ...AUDIO], batches: true },
  anthropic: { adapter: 'anthropic', baseUrl: 'https://api.anthropic.com', priceProviderId: 'anthropic', maxTokensField: 'max_tokens' },
  // AWS Bedrock (Claude; other models through Converse): base_url defaults to https://bedrock-runtime.<region>.amazonaws.com
  // (bedrock.ts). genai-prices' `aws` prices Bedrock model ids, inference profiles included.
  bedrock: { adapter: 'bedrock', baseUrl: undefined, priceProviderId: 'aws', maxTokensField: 'max_tokens' },
  // Claude on Google Vertex AI: base_url defaults to https://<region>-aiplatform.googleapis.com
  // (vertex.ts). genai-prices' `google` prices Vertex's Claude ids (claude-sonnet-4@20250514).
  vertex: { adapter: 'vertex', baseUrl: undefined, priceProviderId: 'google', maxTokensField: 'max_tokens' },
  mock: { adapter: 'mock', baseUrl: undefined, priceProviderId: undefined, maxTokensField: 'max_tokens', extras: ALL, batches: true },
};

/** The price id for an `openai`-kind provider: OpenAI's own only on OpenAI's own host. */
export function priceIdFor(kind: string, url: URL): string | undefined {
  if (kind === 'openai') return url.hostname === 'api.openai.com' ? 'openai' : undefined;
  return KIND_PRESETS[kind]?.priceProviderId;
}
