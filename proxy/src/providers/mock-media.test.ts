import { describe, expect, it } from 'vitest';
import { mockImageUpload, mockImages, mockModerations } from './mock-media.ts';

describe('mock images and moderations', () => {
  it('answers images in OpenAI\'s shapes: gpt-image with usage, DALL·E with revised_prompt and url on request', () => {
    const gpt = JSON.parse(mockImages('gpt-image-1', { prompt: 'a cat', n: 2 })) as Record<string, unknown>;
    expect(Object.keys(gpt).sort()).toEqual(['background', 'created', 'data', 'output_format', 'quality', 'size', 'usage']);
    expect(gpt).toMatchObject({ quality: 'low', size: '1024x1024' });
    expect(JSON.parse(mockImages('gpt-image-1', { prompt: 'a cat', quality: 'high', size: 'auto' }))).toMatchObject({ quality: 'high', size: '1024x1024' });
    expect(gpt['data']).toEqual([{ b64_json: expect.stringMatching(/^iVBOR/) }, { b64_json: expect.stringMatching(/^iVBOR/) }]);
    expect(gpt['usage']).toMatchObject({ input_tokens: 2, output_tokens: 544, total_tokens: 546, input_tokens_details: { text_tokens: 2, image_tokens: 0 } });
    const dalle = JSON.parse(mockImages('dall-e-3', { prompt: 'a cat', response_format: 'url' })) as Record<string, unknown>;
    expect(Object.keys(dalle).sort()).toEqual(['created', 'data']);
    expect(dalle['data']).toEqual([{ url: expect.stringMatching(/^https:\/\/mock\.gatelog\.invalid\//), revised_prompt: 'A mock rendering of: a cat' }]);
    expect(JSON.parse(mockImages('dall-e-2', { prompt: 'x' }))).toMatchObject({ data: [{ b64_json: expect.any(String) }] });
  });

  it('answers edits as generations (the uploaded images counted as input, not the mask) and variations as DALL·E 2', () => {
    const files = [{ field: 'image[]', filename: 'a.png' }, { field: 'image[]', filename: 'b.png' }, { field: 'mask', filename: 'm.png' }];
    const edit = JSON.parse(mockImageUpload('openai.images.edits', 'gpt-image-1', { prompt: 'a cat', n: '2', files })) as Record<string, unknown>;
    expect(edit['data']).toHaveLength(2);
    expect(edit['usage']).toMatchObject({ input_tokens: 2 + 130, output_tokens: 544, input_tokens_details: { text_tokens: 2, image_tokens: 130 } });
    const dalle = JSON.parse(mockImageUpload('openai.images.edits', 'dall-e-2', { prompt: 'a cat', response_format: 'url', files })) as Record<string, unknown>;
    expect(dalle).toEqual({ created: expect.any(Number), data: [{ url: expect.stringMatching(/^https:\/\//) }] });
    const v = JSON.parse(mockImageUpload('openai.images.variations', 'dall-e-2', { n: '3', files: files.slice(0, 1) })) as Record<string, unknown>;
    expect(Object.keys(v).sort()).toEqual(['created', 'data']);
    expect(v['data']).toEqual([0, 1, 2].map(() => ({ b64_json: expect.stringMatching(/^iVBOR/) })));
  });

  it('answers moderations one result per input, flagging violence deterministically', () => {
    const m = JSON.parse(mockModerations('omni-moderation-latest', { input: ['attack now', 'hello'] })) as { id: string; model: string; results: { flagged: boolean; categories: Record<string, boolean>; category_scores: Record<string, number>; category_applied_input_types: Record<string, string[]> }[] };
    expect(m.id).toMatch(/^modr-/);
    expect(m.model).toBe('omni-moderation-latest');
    expect(m.results.map((r) => r.flagged)).toEqual([true, false]);
    expect(Object.keys(m.results[0]!.categories)).toHaveLength(13);
    expect(m.results[0]!.categories['violence']).toBe(true);
    expect(m.results[1]!.category_scores['violence']).toBeLessThan(0.01);
    expect(mockModerations('omni-moderation-latest', { input: 'x' })).toBe(mockModerations('omni-moderation-latest', { input: 'x' }));
    const multi = JSON.parse(mockModerations('omni-moderation-latest', { input: [{ type: 'text', text: 'hurt' }, { type: 'image_url', image_url: { url: 'u' } }] })) as typeof m;
    expect(multi.results).toHaveLength(1);
    expect(multi.results[0]!.category_applied_input_types['violence']).toEqual(['text', 'image']);
  });
});
