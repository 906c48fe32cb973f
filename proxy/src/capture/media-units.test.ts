// Units read from OpenAI's audio and images wire shapes (https://platform.openai.com/docs/api-reference/audio,
// https://platform.openai.com/docs/api-reference/images/object).
import { describe, expect, it } from 'vitest';
import { mediaUnits, unitColumns } from './media-units.ts';

const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('mediaUnits', () => {
  it.each([
    ['whisper json: usage seconds', '{"text":"hi","usage":{"type":"duration","seconds":12.4}}', { audio_seconds: 12.4 }],
    ['verbose_json: usage seconds over duration', '{"task":"transcribe","duration":12.41,"text":"hi","segments":[],"usage":{"type":"duration","seconds":13}}', { audio_seconds: 13 }],
    ['verbose_json without usage: duration', '{"task":"translate","duration":8.5,"text":"hi","segments":[]}', { audio_seconds: 8.5 }],
    ['text format: nothing to read', 'hi there\n', {}],
    ['seconds no audio can last: not reported', '{"text":"hi","usage":{"type":"duration","seconds":1e308}}', {}],
    ['gpt-4o-transcribe: tokens, no seconds', '{"text":"hi","usage":{"type":"tokens","input_tokens":20,"output_tokens":3}}', {}],
  ])('transcriptions, %s', (_name, answer, units) => {
    expect(mediaUnits('openai.audio.transcriptions', '{"model":"whisper-1"}', answer)).toEqual(units);
  });

  it('a long verbose_json transcript is scanned, not parsed, for the same answer', () => {
    const segments = Array.from({ length: 400 }, (_x, i) => ({ id: i, start: i, end: i + 1, text: ' some words "quoted" here' }));
    const answer = JSON.stringify({ task: 'transcribe', language: 'english', duration: 400.2, text: 'x', segments, usage: { type: 'duration', seconds: 401 } });
    expect(answer.length).toBeGreaterThan(16 * 1024);
    expect(mediaUnits('openai.audio.translations', '{}', answer)).toEqual({ audio_seconds: 401 });
  });

  it('speech: characters of the input, an emoji one character', () => {
    expect(mediaUnits('openai.audio.speech', JSON.stringify({ model: 'tts-1', input: 'Hello 🎉 wörld', voice: 'alloy' }), '')).toEqual({ input_characters: 13 });
    expect(mediaUnits('openai.audio.speech', 'not json', '')).toEqual({});
  });

  it('dall-e-3: images from data, size and quality as asked', () => {
    const answer = JSON.stringify({ created: 1, data: [{ url: 'https://x/1.png', revised_prompt: 'a "cat"' }, { url: 'https://x/2.png', revised_prompt: '' }] });
    expect(mediaUnits('openai.images', JSON.stringify({ model: 'dall-e-3', prompt: 'cat', size: '1792x1024', quality: 'hd' }), answer))
      .toEqual({ images: 2, image_size: '1792x1024', image_quality: 'hd' });
    expect(mediaUnits('openai.images', JSON.stringify({ model: 'dall-e-3', prompt: 'cat' }), answer)).toEqual({ images: 2 });
  });

  it('gpt-image-1: base64 megabytes scanned; image input tokens; size and quality answered when asked as auto', () => {
    const big = PNG_B64.repeat(2000);
    const answer = JSON.stringify({
      created: 1, background: 'opaque', data: [{ b64_json: big }, { b64_json: big }, { b64_json: big }], output_format: 'png', quality: 'high', size: '1024x1536',
      usage: { input_tokens: 244, input_tokens_details: { image_tokens: 194, text_tokens: 50 }, output_tokens: 4160, total_tokens: 4404 },
    });
    expect(mediaUnits('openai.images.edits', JSON.stringify({ model: 'gpt-image-1', prompt: 'p', size: 'auto', files: [] }), answer))
      .toEqual({ images: 3, image_size: '1024x1536', image_quality: 'high', input_image_tokens: 194 });
  });

  it('image tokens never exceed the input tokens; other APIs have no units', () => {
    const answer = JSON.stringify({ data: [{ b64_json: 'x' }], usage: { input_tokens: 10, input_tokens_details: { image_tokens: 99 }, output_tokens: 1 } });
    expect(mediaUnits('openai.images.variations', '{"n":"1","size":"256x256"}', answer)).toEqual({ images: 1, image_size: '256x256', input_image_tokens: 10 });
    const absurd = JSON.stringify({ data: [{ b64_json: 'x' }], usage: { input_tokens: 1e12, input_tokens_details: { image_tokens: 1e12 }, output_tokens: 1 } });
    expect(mediaUnits('openai.images', '{}', absurd)).toEqual({ images: 1 });
    expect(mediaUnits('openai.chat', '{}', '{}')).toBeUndefined();
    expect(mediaUnits('openai.moderations', '{}', '{}')).toBeUndefined();
  });

  it('event columns: only those with a value', () => {
    expect(unitColumns(undefined)).toEqual({});
    expect(unitColumns({ images: 0, audio_seconds: 3.5, image_size: '' })).toEqual({ audio_seconds: 3.5 });
  });
});
