// OpenAI's audio uploads, POST /audio/transcriptions and /audio/translations: multipart forms
// with a `file` up to 25 MB, forwarded, governed and recorded by the upload machinery
// (upload-form.ts) as the form's fields plus `{file: {filename, content_type, bytes}}`: the audio
// itself is never stored. (`/audio/speech` is JSON: openai.ts.)
import { ProxyError, badRequest } from '../errors.ts';
import { formField, streamRefused, type FormFile, type UploadEndpoint, type UploadFamily, type UploadForm } from './upload-form.ts';

/** OpenAI's limit on an uploaded audio file (https://platform.openai.com/docs/guides/speech-to-text). */
export const AUDIO_FILE_MAX_BYTES = 25 * 1024 * 1024;
/** The whole form: the file plus room for its fields and part headers. */
export const AUDIO_FORM_MAX_BYTES = AUDIO_FILE_MAX_BYTES + 1024 * 1024;

/** OpenAI's 413 for an upload over its limit, in its words. */
const tooLarge = (bytes: number, limit: number, what: string): ProxyError =>
  new ProxyError(413, 'file_too_large', `Maximum content size limit (${limit}) exceeded (${bytes} ${what}): audio files are limited to 25 MB.`, 'invalid_request_error', 'file');

const missingFile = (): ProxyError => badRequest('missing_file', 'You must provide a `file` parameter.', 'file');

/** The uploaded audio: the `file` part. */
const audioFile = (files: readonly FormFile[]): FormFile | undefined => files.find((x) => x.field === 'file');

function check(path: string) {
  return (f: UploadForm): void => {
    const file = audioFile(f.files);
    if (!file) throw missingFile();
    if (file.bytes > AUDIO_FILE_MAX_BYTES) throw tooLarge(file.bytes, AUDIO_FILE_MAX_BYTES, 'bytes in the file');
    // gpt-4o-transcribe's event stream is not relayed: the transcript is captured as one body.
    if (formField(f.fields, 'stream') === 'true') throw streamRefused(path);
  };
}

export const AUDIO_UPLOADS: readonly UploadEndpoint[] = [
  { path: '/audio/transcriptions', api: 'openai.audio.transcriptions', check: check('/audio/transcriptions') },
  { path: '/audio/translations', api: 'openai.audio.translations', check: check('/audio/translations') },
];

export const AUDIO_FAMILY: UploadFamily = {
  endpoints: AUDIO_UPLOADS,
  formMaxBytes: AUDIO_FORM_MAX_BYTES,
  missingFile,
  tooLarge: (bytes) => tooLarge(bytes, AUDIO_FORM_MAX_BYTES, 'bytes in the request'),
  describe(fields, files) {
    const f = audioFile(files);
    return f ? { ...fields, file: { filename: f.filename, content_type: f.content_type, bytes: f.bytes } } : fields;
  },
  what: 'audio',
};
