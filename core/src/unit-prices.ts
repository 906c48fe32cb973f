// Prices of calls billed by something other than text tokens: audio seconds (Whisper),
// characters of speech input (tts-1), images by size and quality (DALL·E). genai-prices prices
// what it knows (whisper-1 and Groq's Whisper by the second, gpt-image models by token kind);
// this table holds OpenAI's published rates for the units it has no entry for, and the same
// rules price the unit rates of a config `pricing:` entry.

/** What a call used beyond its token counts (migration 0030); absent or 0 = none reported. */
export interface Units {
  /** Image input tokens: part of input_tokens (gpt-image models' edits and references). */
  input_image_tokens?: number;
  /** Seconds of audio transcribed or translated (Whisper: `usage.seconds` or `duration`). */
  audio_seconds?: number;
  /** Characters of text turned into speech (the speech request's `input`). */
  input_characters?: number;
  /** Images answered (`data.length`). */
  images?: number;
  /** The images' size as asked (`1024x1024`), or as answered; '' = the model's default. */
  image_size?: string;
  /** The images' quality as asked (`hd`, `standard`, `high`), or as answered; '' = the default. */
  image_quality?: string;
}

/**
 * Per-unit rates. `image` is one price per image, or prices keyed by `"<quality> <size>"`,
 * `"<size>"`, `"<quality>"` or `default`, the most specific key that matches winning.
 */
export interface UnitRates {
  /** USD per minute of audio. */
  audio_minute?: number | undefined;
  /** USD per million characters of input. */
  per_1m_characters?: number | undefined;
  /** USD per image. */
  image?: number | Readonly<Record<string, number>> | undefined;
}

interface BuiltIn extends UnitRates {
  /** OpenAI's defaults when the request names no size or quality. */
  size?: string;
  quality?: string;
}

/**
 * OpenAI's published per-unit prices, https://openai.com/api/pricing/ (read 2026-12-05), for
 * exactly the models billed by a unit genai-prices does not price. whisper-1 is in genai-prices
 * too (and wins there); its row keeps Whisper priced should the price data ever drop it.
 */
const BUILT_IN: ReadonlyMap<string, BuiltIn> = new Map<string, BuiltIn>([
  // $0.006 / minute — https://openai.com/api/pricing/ (2026-12-05)
  ['whisper-1', { audio_minute: 0.006 }],
  // $15 / 1M characters — https://openai.com/api/pricing/ (2026-12-05)
  ['tts-1', { per_1m_characters: 15 }],
  // $30 / 1M characters — https://openai.com/api/pricing/ (2026-12-05)
  ['tts-1-hd', { per_1m_characters: 30 }],
  // Standard $0.04 (1024×1024) / $0.08 (1024×1792, 1792×1024); HD $0.08 / $0.12 —
  // https://openai.com/api/pricing/ (2026-12-05)
  ['dall-e-3', {
    image: { '1024x1024': 0.04, '1024x1792': 0.08, '1792x1024': 0.08, 'hd 1024x1024': 0.08, 'hd 1024x1792': 0.12, 'hd 1792x1024': 0.12 },
    size: '1024x1024', quality: 'standard',
  }],
  // $0.016 (256×256), $0.018 (512×512), $0.02 (1024×1024) — https://openai.com/api/pricing/ (2026-12-05)
  ['dall-e-2', { image: { '256x256': 0.016, '512x512': 0.018, '1024x1024': 0.02 }, size: '1024x1024' }],
]);

/** Providers whose prices are OpenAI's (undefined: a provider priced by model name alone). */
const OPENAI_PRICED: ReadonlySet<string | undefined> = new Set([undefined, 'openai', 'azure']);

/** The built-in unit rates of a model, for providers that bill at OpenAI's prices. */
export function builtInUnitRates(providerId: string | undefined, model: string): BuiltIn | undefined {
  return OPENAI_PRICED.has(providerId) ? BUILT_IN.get(model) : undefined;
}

const own = (m: Readonly<Record<string, number>>, k: string): number | undefined => (Object.hasOwn(m, k) ? m[k] : undefined);

function imageRate(image: NonNullable<UnitRates['image']>, size: string, quality: string): number | undefined {
  if (typeof image === 'number') return image;
  return (quality && size ? own(image, `${quality} ${size}`) : undefined) ?? (size ? own(image, size) : undefined) ?? (quality ? own(image, quality) : undefined) ?? own(image, 'default');
}

/** The units a call reported, priced: USD, and whether some reported unit had no rate. */
export interface UnitCharge {
  usd: number;
  /** A unit was reported and priced. */
  priced: boolean;
  /** A unit was reported with no rate for it. */
  missing: boolean;
}

/** Each reported unit at its rate (`defaults`: size and quality when the call named none). */
export function chargeUnits(rates: UnitRates, u: Units, defaults: { size?: string | undefined; quality?: string | undefined } = {}): UnitCharge {
  const c: UnitCharge = { usd: 0, priced: false, missing: false };
  const add = (quantity: number | undefined, rate: number | undefined, per: number): void => {
    if (!quantity || quantity <= 0) return;
    if (rate === undefined) c.missing = true;
    else {
      c.usd += (quantity * rate) / per;
      c.priced = true;
    }
  };
  add(u.audio_seconds, rates.audio_minute, 60);
  add(u.input_characters, rates.per_1m_characters, 1e6);
  const size = u.image_size || defaults.size || '';
  const quality = u.image_quality || defaults.quality || '';
  add(u.images, rates.image === undefined ? undefined : imageRate(rates.image, size, quality), 1);
  return c;
}

/** Whether the call reported any unit (tokens aside). */
export function hasUnits(u: Units | undefined): boolean {
  return !!u && ((u.audio_seconds ?? 0) > 0 || (u.input_characters ?? 0) > 0 || (u.images ?? 0) > 0);
}
