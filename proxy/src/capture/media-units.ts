// What an audio or images call is billed by beyond text tokens (migration 0030), read from the
// request the client sent and the answer it got: Whisper's audio seconds, the characters a
// speech call turned into audio, images by count, size and quality, and the image input tokens
// of gpt-image models. Runs for those APIs only (chat never pays for it).
import type { Units } from '@gatelog/core';
import { MAX_AUDIO_SECONDS, saneTokenCount } from '@gatelog/core/event-numbers';
import { scanJsonField } from '@gatelog/core/json/json-scan';

/** Above this size an answer is scanned for its few fields, not parsed (base64 images: megabytes). */
const SCAN_ABOVE_CHARS = 16 * 1024;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
/** Reported seconds gatelog can use (core/src/event-numbers.ts bounds), else 0: not reported. */
const seconds = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_AUDIO_SECONDS ? v : 0);
/** A size or quality as asked or answered ('auto' says nothing of what was billed). */
const label = (v: unknown): string => (typeof v === 'string' && v !== 'auto' && v.length <= 64 ? v : '');

function parse(text: string): Record<string, unknown> {
  try {
    return obj(JSON.parse(text));
  } catch {
    return {}; // A transcript as text, srt or vtt: no usage to read.
  }
}

/** Characters (code points) of a string, as OpenAI counts a speech input. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by its low half is one character.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Occurrences of `"key":` (a key: quotes inside JSON strings are escaped). */
function keyCount(text: string, key: string): number {
  const needle = `"${key}":`;
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** Whisper: the billed seconds (`usage: {type: 'duration', seconds}`), else verbose_json's `duration`. */
function audioSeconds(answer: string): Units {
  const big = answer.length > SCAN_ABOVE_CHARS;
  const a = big ? {} : parse(answer);
  const usage = obj(big ? scanJsonField(answer, 'usage', true) : a['usage']);
  const s = usage['type'] === 'duration' ? seconds(usage['seconds']) : seconds(big ? scanJsonField(answer, 'duration') : a['duration']);
  return s > 0 ? { audio_seconds: s } : {};
}

/** Images: how many were answered, their size and quality (asked, else answered), gpt-image's image input tokens. */
function imageUnits(request: Record<string, unknown>, answer: string): Units {
  const big = answer.length > SCAN_ABOVE_CHARS;
  const a = big ? {} : parse(answer);
  const field = (k: string): unknown => (big ? scanJsonField(answer, k, true) : a[k]);
  const data = a['data'];
  const images = Array.isArray(data) ? data.length : keyCount(answer, 'b64_json') + keyCount(answer, 'url');
  const usage = obj(field('usage'));
  // A part never exceeds its whole; counts the token columns could not hold are not reported.
  const input = usage['input_tokens'];
  const image = obj(usage['input_tokens_details'])['image_tokens'];
  const imageTokens = saneTokenCount(input) && saneTokenCount(image) ? Math.min(image, input) : 0;
  const size = label(request['size']) || label(field('size'));
  const quality = label(request['quality']) || label(field('quality'));
  return {
    images,
    ...(size ? { image_size: size } : {}),
    ...(quality ? { image_quality: quality } : {}),
    ...(imageTokens > 0 ? { input_image_tokens: imageTokens } : {}),
  };
}

const MEDIA_APIS: ReadonlySet<string> = new Set([
  'openai.audio.transcriptions', 'openai.audio.translations', 'openai.audio.speech', 'openai.images', 'openai.images.edits', 'openai.images.variations',
]);

/** Whether calls of this API are billed by units (and so carry them). */
export const mediaApi = (api: string): boolean => MEDIA_APIS.has(api);

/**
 * The units of a successful audio or images call: `requestBody` as recorded (JSON, or an
 * upload's fields as JSON), `answer` the response text ('' for speech audio). Undefined for
 * any other API.
 */
export function mediaUnits(api: string, requestBody: string, answer: string): Units | undefined {
  switch (api) {
    case 'openai.audio.transcriptions':
    case 'openai.audio.translations':
      return audioSeconds(answer);
    case 'openai.audio.speech': {
      const input = parse(requestBody)['input'];
      return typeof input === 'string' && input !== '' ? { input_characters: codePoints(input) } : {};
    }
    case 'openai.images':
    case 'openai.images.edits':
    case 'openai.images.variations':
      return imageUnits(parse(requestBody), answer);
    default:
      return undefined;
  }
}

/** The event's unit columns: only those with a value, so other calls' events stay as they were. */
export function unitColumns(u: Units | undefined): Units {
  if (!u) return {};
  const out: Units = {};
  if (u.input_image_tokens) out.input_image_tokens = u.input_image_tokens;
  if (u.audio_seconds) out.audio_seconds = u.audio_seconds;
  if (u.input_characters) out.input_characters = u.input_characters;
  if (u.images) out.images = u.images;
  if (u.image_size) out.image_size = u.image_size;
  if (u.image_quality) out.image_quality = u.image_quality;
  return out;
}
