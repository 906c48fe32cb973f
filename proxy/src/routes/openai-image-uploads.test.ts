import { describe, expect, it } from 'vitest';
import { IMAGE_UPLOADS, IMAGE_UPLOAD_FAMILY } from './openai-image-uploads.ts';
import { readUploadForm, shownUpload } from './upload-form.ts';

const B = 'gl-test-boundary';
const CT = `multipart/form-data; boundary=${B}`;

/** A form as the SDK writes it: plain fields, then files by field name. */
function form(fields: Record<string, string>, files: [string, string, number][] = []): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const [field, name, bytes] of files) {
    parts.push(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: image/png\r\n\r\n`), Buffer.alloc(bytes, 0x89), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${B}--\r\n`));
  return Buffer.concat(parts);
}

const [edits, variations] = IMAGE_UPLOADS as [(typeof IMAGE_UPLOADS)[number], (typeof IMAGE_UPLOADS)[number]];
const refusal = (ep: typeof edits, body: Buffer): unknown => {
  try {
    ep.check(readUploadForm(IMAGE_UPLOAD_FAMILY, body, CT));
    return null;
  } catch (e) {
    const { status, code, param } = e as { status: number; code: string; param: string | null };
    return { status, code, param };
  }
};

describe('image uploads', () => {
  it('refuses what OpenAI refuses: no image (a mask alone is none), an edit with no prompt, a streamed edit', () => {
    const cases: [typeof edits, Buffer, unknown][] = [
      [edits, form({ prompt: 'x' }, [['image', 'a.png', 10]]), null],
      [edits, form({ prompt: 'x' }, [['image[]', 'a.png', 10], ['image[]', 'b.png', 10], ['mask', 'm.png', 10]]), null],
      [edits, form({ prompt: 'x' }), { status: 400, code: 'missing_image', param: 'image' }],
      [edits, form({ prompt: 'x', image: 'not a file' }), { status: 400, code: 'missing_image', param: 'image' }],
      [edits, form({ prompt: 'x' }, [['mask', 'm.png', 10]]), { status: 400, code: 'missing_image', param: 'image' }],
      [edits, form({}, [['image', 'a.png', 10]]), { status: 400, code: 'missing_prompt', param: 'prompt' }],
      [edits, form({ prompt: 'x', stream: 'true' }, [['image', 'a.png', 10]]), { status: 400, code: 'stream_unsupported', param: 'stream' }],
      [edits, form({ prompt: 'x', stream: 'false' }, [['image', 'a.png', 10]]), null],
      [variations, form({ n: '2' }, [['image', 'a.png', 10]]), null],
      [variations, form({ n: '2' }), { status: 400, code: 'missing_image', param: 'image' }],
    ];
    for (const [ep, body, want] of cases) expect(refusal(ep, body), `${ep.path} ${body.toString('latin1').replace(/\x89+/g, '…')}`).toEqual(want);
  });

  it('is shown as its text fields and each file\'s field, name, type and size, never its bytes', () => {
    const body = form({ model: 'gpt-image-1', prompt: 'a hat' }, [['image[]', 'a.png', 300], ['image[]', 'b.png', 200], ['mask', 'm.png', 100]]);
    const shown = shownUpload(IMAGE_UPLOAD_FAMILY)(body, CT);
    expect(shown?.json).toEqual({
      model: 'gpt-image-1', prompt: 'a hat',
      files: [
        { field: 'image[]', filename: 'a.png', content_type: 'image/png', bytes: 300 },
        { field: 'image[]', filename: 'b.png', content_type: 'image/png', bytes: 200 },
        { field: 'mask', filename: 'm.png', content_type: 'image/png', bytes: 100 },
      ],
    });
    expect(shown?.text).not.toContain('\u0089');
    expect(shownUpload(IMAGE_UPLOAD_FAMILY)(body, 'application/json')).toBeNull();
  });
});
