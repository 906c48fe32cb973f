import { describe, expect, it } from 'vitest';
import { mockSpeech, mockTranscript } from './mock-audio.ts';

const file = { filename: 'a.wav', content_type: 'audio/wav', bytes: 96_000 };
const json = (a: { contentType: string; body: Buffer }): Record<string, unknown> => JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;

describe('mock audio', () => {
  it('transcribes in every response_format, with the usage each model family reports', () => {
    const gpt = mockTranscript('openai.audio.transcriptions', 'gpt-4o-transcribe', { model: 'x', file });
    expect(gpt.contentType).toBe('application/json');
    expect(json(gpt)).toEqual({ text: 'Mock transcription of a.wav.', usage: { type: 'tokens', input_tokens: 30, input_token_details: { text_tokens: 0, audio_tokens: 30 }, output_tokens: expect.any(Number), total_tokens: expect.any(Number) } });
    expect(json(mockTranscript('openai.audio.transcriptions', 'whisper-1', { file }))).toEqual({ text: 'Mock transcription of a.wav.', usage: { type: 'duration', seconds: 3 } });
    expect(json(mockTranscript('openai.audio.translations', 'whisper-1', { file }))).toEqual({ text: 'Mock translation of a.wav.' });
    const text = mockTranscript('openai.audio.transcriptions', 'whisper-1', { file, response_format: 'text' });
    expect([text.contentType, text.body.toString()]).toEqual(['text/plain; charset=utf-8', 'Mock transcription of a.wav.\n']);
    expect(mockTranscript('openai.audio.transcriptions', 'whisper-1', { file, response_format: 'srt' }).body.toString()).toBe('1\n00:00:00,000 --> 00:00:03,000\nMock transcription of a.wav.\n\n');
    expect(mockTranscript('openai.audio.transcriptions', 'whisper-1', { file, response_format: 'vtt' }).body.toString()).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nMock transcription of a.wav.\n\n');
    const verbose = json(mockTranscript('openai.audio.transcriptions', 'whisper-1', { file, language: 'en', response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'segment'] }));
    expect(verbose).toMatchObject({ task: 'transcribe', language: 'en', duration: 3, text: 'Mock transcription of a.wav.', segments: [{ id: 0, start: 0, end: 3 }], usage: { type: 'duration', seconds: 3 } });
    expect(verbose['words']).toHaveLength(4);
  });

  it('speaks silence of the asked format: mp3 frames, a WAV file, raw 24 kHz PCM', () => {
    const mp3 = mockSpeech({ input: 'hello', response_format: 'mp3' });
    expect(mp3.contentType).toBe('audio/mpeg');
    expect([...mp3.body.subarray(0, 2)]).toEqual([0xff, 0xfb]);
    expect(mp3.body.length % 417).toBe(0);
    const wav = mockSpeech({ input: 'hello', response_format: 'wav' });
    expect([wav.contentType, wav.body.subarray(0, 4).toString('ascii'), wav.body.subarray(8, 12).toString('ascii')]).toEqual(['audio/wav', 'RIFF', 'WAVE']);
    expect(wav.body.readUInt32LE(4)).toBe(wav.body.length - 8);
    const pcm = mockSpeech({ input: 'hello', response_format: 'pcm' });
    expect([pcm.contentType, pcm.body.length]).toEqual(['audio/pcm', 0.5 * 24_000 * 2]);
    expect(mockSpeech({ input: 'x', response_format: 'opus' }).contentType).toBe('audio/mpeg');
  });
});
