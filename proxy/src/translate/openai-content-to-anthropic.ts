// OpenAI message content parts → Anthropic content blocks.
import type { AnthropicImageBlock, AnthropicRequestBlock, AnthropicTextBlock } from './types-anthropic.ts';
import { TranslateError } from './errors.ts';
import { expectArray, expectObject, expectString } from './guards.ts';

/** Media types the Messages API accepts for images. */
export const ANTHROPIC_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

const DATA_URL = /^data:([^;,]+)((?:;[^;,]+)*?);base64,(.*)$/s;

export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = DATA_URL.exec(url);
  if (m === null) return undefined;
  return { mediaType: m[1]!.toLowerCase(), data: m[3]! };
}

export function imageUrlToBlock(url: string, param: string): AnthropicImageBlock {
  if (url.startsWith('data:')) {
    const parsed = parseDataUrl(url);
    if (parsed === undefined) throw new TranslateError('unsupported_content', 'image data URLs must be base64 encoded', param);
    if (!ANTHROPIC_IMAGE_TYPES.includes(parsed.mediaType)) {
      throw new TranslateError('unsupported_content', `image type ${parsed.mediaType} is not supported (use ${ANTHROPIC_IMAGE_TYPES.join(', ')})`, param);
    }
    return { type: 'image', source: { type: 'base64', media_type: parsed.mediaType, data: parsed.data } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new TranslateError('unsupported_content', 'image_url must be an http(s) or base64 data URL', param);
}

function fileToBlock(part: Record<string, unknown>, param: string): AnthropicRequestBlock {
  const file = expectObject(part['file'], `${param}.file`);
  const data = file['file_data'];
  if (typeof data !== 'string') {
    // file_id refers to OpenAI's file store, which the other provider cannot read.
    throw new TranslateError('unsupported_content', 'only inline file_data is supported, not file_id', `${param}.file`);
  }
  const parsed = parseDataUrl(data);
  if (parsed?.mediaType !== 'application/pdf') {
    throw new TranslateError('unsupported_content', 'file_data must be a base64 application/pdf data URL', `${param}.file.file_data`);
  }
  return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: parsed.data } };
}

/** Text-only content (system, tool, assistant); empty text parts are dropped (Anthropic rejects them). */
export function textParts(content: unknown, param: string, allowRefusal = false): AnthropicTextBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return expectArray(content, param).flatMap((raw, i): AnthropicTextBlock[] => {
    const p = `${param}[${i}]`;
    const part = expectObject(raw, p);
    if (part['type'] === 'text') {
      const text = expectString(part['text'], `${p}.text`);
      return text === '' ? [] : [{ type: 'text', text }];
    }
    if (allowRefusal && part['type'] === 'refusal') {
      const text = expectString(part['refusal'], `${p}.refusal`);
      return text === '' ? [] : [{ type: 'text', text }];
    }
    throw new TranslateError('unsupported_content', `content part type ${JSON.stringify(part['type'])} is not supported here`, `${p}.type`);
  });
}

export function userParts(content: unknown, param: string): AnthropicRequestBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return expectArray(content, param).flatMap((raw, i): AnthropicRequestBlock[] => {
    const p = `${param}[${i}]`;
    const part = expectObject(raw, p);
    switch (part['type']) {
      case 'text': {
        const text = expectString(part['text'], `${p}.text`);
        return text === '' ? [] : [{ type: 'text', text }];
      }
      case 'image_url': {
        const img = part['image_url'];
        // both `{url}` (the spec) and a bare string (accepted by some SDKs) appear in the wild
        const url = typeof img === 'string' ? img : expectString(expectObject(img, `${p}.image_url`)['url'], `${p}.image_url.url`);
        return [imageUrlToBlock(url, `${p}.image_url.url`)];
      }
      case 'file':
        return [fileToBlock(part, p)];
      default:
        // input_audio and anything newer: no Anthropic equivalent
        throw new TranslateError('unsupported_content', `content part type ${JSON.stringify(part['type'])} is not supported`, `${p}.type`);
    }
  });
}
