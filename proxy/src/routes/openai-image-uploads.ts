// OpenAI's image uploads, POST /images/edits and /images/variations: multipart forms with one or
// more `image` files (`image[]` when the SDK is given an array: GPT Image models take several),
// an optional `mask` (edits) and text fields, forwarded, governed and recorded by the upload
// machinery (upload-form.ts) as the form's text fields plus `files: [{field, filename,
// content_type, bytes}]`: the images themselves are never stored. The answer is JSON (`b64_json`
// or `url`), recorded as images.generations' is.
import { ProxyError, badRequest } from '../errors.ts';
import { formField, streamRefused, type FormFile, type UploadEndpoint, type UploadFamily, type UploadForm } from './upload-form.ts';

/**
 * One limit for the whole form (every image, the mask and the fields): OpenAI's limit on one
 * image for GPT Image models (https://platform.openai.com/docs/api-reference/images/createEdit).
 * DALL·E 2's smaller one (4 MB, one square PNG) is the upstream's to answer: the alias may name
 * either.
 */
export const IMAGE_FORM_MAX_BYTES = 50 * 1024 * 1024;

const missingImage = (): ProxyError => badRequest('missing_image', 'You must provide an `image` parameter.', 'image');

/** The images to edit or vary: `image` parts, or `image[]` for several. */
const isImage = (f: FormFile): boolean => f.field === 'image' || f.field === 'image[]';

function check(path: string, prompt: boolean) {
  return (f: UploadForm): void => {
    if (!f.files.some(isImage)) throw missingImage();
    if (prompt && formField(f.fields, 'prompt') === undefined) throw badRequest('missing_prompt', 'You must provide a `prompt` parameter.', 'prompt');
    // GPT Image edits can stream partial images; gatelog relays the finished answer only.
    if (formField(f.fields, 'stream') === 'true') throw streamRefused(path);
  };
}

export const IMAGE_UPLOADS: readonly UploadEndpoint[] = [
  { path: '/images/edits', api: 'openai.images.edits', check: check('/images/edits', true) },
  { path: '/images/variations', api: 'openai.images.variations', check: check('/images/variations', false) },
];

export const IMAGE_UPLOAD_FAMILY: UploadFamily = {
  endpoints: IMAGE_UPLOADS,
  formMaxBytes: IMAGE_FORM_MAX_BYTES,
  missingFile: missingImage,
  tooLarge: (bytes) =>
    new ProxyError(413, 'file_too_large', `Maximum content size limit (${IMAGE_FORM_MAX_BYTES}) exceeded (${bytes} bytes in the request): an image upload is limited to 50 MB in all.`, 'invalid_request_error', 'image'),
  describe: (fields, files) => ({ ...fields, files: files.map((f) => ({ field: f.field, filename: f.filename, content_type: f.content_type, bytes: f.bytes })) }),
  what: 'an image',
};
