// The request page's line for what an audio or images call was billed by (ui/src/lib/billed-units.ts).
import { describe, expect, it } from 'vitest';
import { billedUnits } from '../../ui/src/lib/billed-units.ts';

describe('billed units', () => {
  it.each([
    ['a chat call', { input_image_tokens: 0, audio_seconds: 0, input_characters: 0, images: 0, image_size: '', image_quality: '' }, ''],
    ['an old row without the columns', {}, ''],
    ['whisper', { audio_seconds: 12.44 }, '12.4 s audio'],
    ['speech', { input_characters: 1200 }, '1,200 characters'],
    ['one character', { input_characters: 1 }, '1 character'],
    ['DALL·E', { images: 3, image_size: '1024x1024', image_quality: 'hd' }, '3 images 1024x1024 hd'],
    ['DALL·E with the defaults', { images: 1, image_size: '', image_quality: '' }, '1 image'],
    ['gpt-image edit', { images: 2, image_size: '1024x1536', image_quality: 'high', input_image_tokens: 388 }, '2 images 1024x1536 high · 388 image input tokens'],
  ])('%s', (_name, c, text) => {
    expect(billedUnits(c)).toBe(text);
  });
});
