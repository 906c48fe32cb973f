// What an audio or images call was billed by beyond tokens (migration 0030), in words for the
// request page: "12.4 s audio", "3 images 1024x1024 hd", "1,200 characters". '' for other calls.
import type { Units } from '@gatelog/core/unit-prices';

const int = (n: number): string => n.toLocaleString('en-US');

export function billedUnits(c: Units): string {
  const parts: string[] = [];
  if (c.audio_seconds) parts.push(`${(Math.round(c.audio_seconds * 10) / 10).toLocaleString('en-US')} s audio`);
  if (c.input_characters) parts.push(`${int(c.input_characters)} character${c.input_characters === 1 ? '' : 's'}`);
  if (c.images) parts.push([`${int(c.images)} image${c.images === 1 ? '' : 's'}`, c.image_size, c.image_quality].filter(Boolean).join(' '));
  if (c.input_image_tokens) parts.push(`${int(c.input_image_tokens)} image input tokens`);
  return parts.join(' · ');
}
