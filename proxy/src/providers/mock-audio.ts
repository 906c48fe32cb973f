// Deterministic audio answers for the built-in mock provider, in OpenAI's wire shapes
// (https://platform.openai.com/docs/api-reference/audio): transcripts and translations in every
// response_format, with the usage each model family reports (gpt-4o-transcribe: tokens;
// whisper-1: seconds), and speech as real, silent audio of the asked format.
import { mockTokens } from './mock-content.ts';

export interface MockAudioAnswer {
  contentType: string;
  body: Buffer;
}

interface FileMeta {
  filename?: unknown;
  bytes?: unknown;
}

const str = (v: unknown, d: string): string => (typeof v === 'string' && v !== '' ? v : d);

/** Seconds of the uploaded audio as the mock reckons them: 16 kHz 16-bit mono, at least one. */
function secondsOf(file: FileMeta | undefined): number {
  const bytes = typeof file?.bytes === 'number' ? file.bytes : 0;
  return Math.max(1, Math.round(bytes / 32_000));
}

const stamp = (s: number, sep: ',' | '.'): string => {
  const ms = Math.round(s * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(Math.floor(ms / 3_600_000))}:${p(Math.floor(ms / 60_000) % 60)}:${p(Math.floor(ms / 1000) % 60)}${sep}${p(ms % 1000, 3)}`;
};

/** POST /audio/transcriptions and /audio/translations: `json` is the form's fields plus `file: {filename, content_type, bytes}`. */
export function mockTranscript(api: 'openai.audio.transcriptions' | 'openai.audio.translations', model: string, json: Readonly<Record<string, unknown>>): MockAudioAnswer {
  const file = json['file'] as FileMeta | undefined;
  const translate = api === 'openai.audio.translations';
  const text = `Mock ${translate ? 'translation' : 'transcription'} of ${str(file?.filename, 'audio')}.`;
  const seconds = secondsOf(file);
  const format = str(json['response_format'], 'json');
  if (format === 'text') return { contentType: 'text/plain; charset=utf-8', body: Buffer.from(`${text}\n`) };
  if (format === 'srt') return { contentType: 'text/plain; charset=utf-8', body: Buffer.from(`1\n${stamp(0, ',')} --> ${stamp(seconds, ',')}\n${text}\n\n`) };
  if (format === 'vtt') return { contentType: 'text/plain; charset=utf-8', body: Buffer.from(`WEBVTT\n\n${stamp(0, '.')} --> ${stamp(seconds, '.')}\n${text}\n\n`) };
  // gpt-4o-transcribe and its kin bill tokens; Whisper bills the audio's duration.
  const tokens = model.includes('gpt-4o');
  const audioTokens = seconds * 10;
  const out = mockTokens(text);
  const usage = tokens
    ? { type: 'tokens', input_tokens: audioTokens, input_token_details: { text_tokens: 0, audio_tokens: audioTokens }, output_tokens: out, total_tokens: audioTokens + out }
    : { type: 'duration', seconds };
  if (format === 'verbose_json') {
    const grains = json['timestamp_granularities[]'];
    const words = grains === 'word' || (Array.isArray(grains) && grains.includes('word'));
    const segment = { id: 0, seek: 0, start: 0, end: seconds, text: ` ${text}`, tokens: [50364, 50414], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0.01 };
    const wordList = text.split(' ').map((w, i, all) => ({ word: w, start: (seconds * i) / all.length, end: (seconds * (i + 1)) / all.length }));
    const body = { task: translate ? 'translate' : 'transcribe', language: translate ? 'english' : str(json['language'], 'english'), duration: seconds, text, ...(words ? { words: wordList } : {}), segments: [segment], usage: { type: 'duration', seconds } };
    return { contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) };
  }
  return { contentType: 'application/json', body: Buffer.from(JSON.stringify(translate ? { text } : { text, usage })) };
}

/** One silent MPEG-1 Layer III frame: 128 kb/s, 44.1 kHz, mono (417 bytes, 1,152 samples). */
const MP3_FRAME = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0xc0]), Buffer.alloc(413)]);
const MP3_FRAME_SECONDS = 1152 / 44_100;

/** 24 kHz 16-bit mono silence, as OpenAI's `pcm` (and the body of its `wav`). */
const PCM_RATE = 24_000;

function wav(pcm: Buffer): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(PCM_RATE, 24);
  h.writeUInt32LE(PCM_RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

/**
 * POST /audio/speech: silence lasting about as long as the input would take to say (60 ms a
 * character, 0.5 to 5 s). wav and pcm as asked; every other format as mp3 (audio/mpeg), the
 * one compressed format the mock can write.
 */
export function mockSpeech(json: Readonly<Record<string, unknown>>): MockAudioAnswer {
  const input = typeof json['input'] === 'string' ? json['input'] : '';
  const seconds = Math.min(5, Math.max(0.5, input.length * 0.06));
  const format = str(json['response_format'], 'mp3');
  if (format === 'pcm' || format === 'wav') {
    const pcm = Buffer.alloc(Math.round(seconds * PCM_RATE) * 2);
    return format === 'pcm' ? { contentType: 'audio/pcm', body: pcm } : { contentType: 'audio/wav', body: wav(pcm) };
  }
  const frames = Math.ceil(seconds / MP3_FRAME_SECONDS);
  return { contentType: 'audio/mpeg', body: Buffer.concat(Array.from({ length: frames }, () => MP3_FRAME)) };
}
