import { describe, expect, it } from 'vitest';
import { anthropicErrorToOpenAI, openaiErrorToAnthropic } from './error-mapping.ts';
import { TranslateError, translateErrorToAnthropic, translateErrorToOpenAI } from './errors.ts';

const anthropicBody = (type: string, message = 'boom') => ({ type: 'error', error: { type, message }, request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy' });

describe('anthropicErrorToOpenAI', () => {
  it.each([
    ['invalid_request_error', 400, 400, 'invalid_request_error'],
    ['authentication_error', 401, 401, 'authentication_error'],
    ['permission_error', 403, 403, 'permission_error'],
    ['not_found_error', 404, 404, 'not_found_error'],
    ['request_too_large', 413, 413, 'invalid_request_error'],
    ['rate_limit_error', 429, 429, 'rate_limit_error'],
    ['api_error', 500, 500, 'server_error'],
    // A gateway's own 5xx (Bedrock's ModelErrorException 424 → 502, ModelTimeoutException 408 → 504).
    ['api_error', 502, 502, 'server_error'],
    ['api_error', 504, 504, 'server_error'],
    ['overloaded_error', 529, 503, 'server_error'],
  ])('%s (%i) → %i %s', (type, upstream, status, openaiType) => {
    const got = anthropicErrorToOpenAI(upstream, anthropicBody(type));
    expect(got).toEqual({ status, upstreamStatus: upstream, body: { error: { message: 'boom', type: openaiType, param: null, code: type } } });
  });

  it.each([
    ['raw JSON text', JSON.stringify(anthropicBody('rate_limit_error', 'slow down')), 429, 429, 'slow down', 'rate_limit_error'],
    ['bytes', Buffer.from(JSON.stringify(anthropicBody('api_error'))), 500, 500, 'boom', 'server_error'],
    ['non-JSON text', '<html>Bad Gateway</html>', 502, 502, '<html>Bad Gateway</html>', 'server_error'],
    ['empty 529', '', 529, 503, 'upstream error (status 529)', 'server_error'],
    ['unknown type keeps status', anthropicBody('teapot_error'), 418, 418, 'boom', 'invalid_request_error'],
    ['mid-stream event (status 0)', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 0, 503, 'Overloaded', 'server_error'],
    ['mid-stream api_error (status 0)', { type: 'error', error: { type: 'api_error', message: 'Internal' } }, 0, 500, 'Internal', 'server_error'],
  ])('%s', (_name, body, upstream, status, message, type) => {
    const got = anthropicErrorToOpenAI(upstream, body);
    expect(got.status).toBe(status);
    expect(got.body.error.message).toBe(message);
    expect(got.body.error.type).toBe(type);
  });
});

describe('openaiErrorToAnthropic', () => {
  const body = (type: string, code: string | null = null) => ({ error: { message: 'nope', type, param: null, code } });
  it.each([
    [400, body('invalid_request_error'), 400, 'invalid_request_error'],
    [401, body('invalid_request_error', 'invalid_api_key'), 401, 'authentication_error'],
    [403, body('invalid_request_error'), 403, 'permission_error'],
    [404, body('invalid_request_error', 'model_not_found'), 404, 'not_found_error'],
    [413, body('invalid_request_error'), 413, 'request_too_large'],
    [429, body('requests', 'rate_limit_exceeded'), 429, 'rate_limit_error'],
    [500, body('server_error'), 500, 'api_error'],
    [503, body('server_error'), 503, 'overloaded_error'],
    [0, body('server_error'), 500, 'api_error'],
    [0, body('tokens', 'rate_limit_exceeded'), 429, 'rate_limit_error'],
  ])('%i %j → %i %s', (status, b, want, type) => {
    expect(openaiErrorToAnthropic(status, b)).toEqual({ status: want, upstreamStatus: status, body: { type: 'error', error: { type, message: 'nope' } } });
  });
});

describe('TranslateError shapes', () => {
  it('is a 400 in both shapes with code and param', () => {
    const e = new TranslateError('unsupported_parameter', 'n > 1 is not supported', 'n');
    expect(translateErrorToOpenAI(e)).toEqual({ status: 400, body: { error: { message: 'n > 1 is not supported', type: 'invalid_request_error', param: 'n', code: 'unsupported_parameter' } } });
    expect(translateErrorToAnthropic(e)).toEqual({ status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'n: n > 1 is not supported' } } });
  });
  it('is a 502 for untranslatable upstream answers', () => {
    const e = new TranslateError('invalid_upstream_response', 'bad');
    expect(translateErrorToOpenAI(e).status).toBe(502);
    expect(translateErrorToAnthropic(e).body.error.type).toBe('api_error');
  });
});
