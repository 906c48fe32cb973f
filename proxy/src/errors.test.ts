import { describe, expect, it } from 'vitest';
import { ProxyError, classifyUpstreamError, openAiErrorBody, toProxyError } from './errors.ts';

const withCode = (code: string): Error => Object.assign(new Error('whatever the message says'), { code });

describe('classifyUpstreamError', () => {
  it.each([
    ['ECONNREFUSED', 502, 'upstream_unavailable'],
    ['ECONNRESET', 502, 'upstream_unavailable'],
    ['ENOTFOUND', 502, 'upstream_unavailable'],
    ['UND_ERR_SOCKET', 502, 'upstream_unavailable'],
    ['UND_ERR_CLOSED', 502, 'upstream_unavailable'],
    ['UND_ERR_CONNECT_TIMEOUT', 504, 'upstream_timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 504, 'upstream_timeout'],
    ['UND_ERR_BODY_TIMEOUT', 504, 'upstream_timeout'],
    ['ETIMEDOUT', 504, 'upstream_timeout'],
    ['SOMETHING_ELSE', 502, 'upstream_error'],
  ])('%s → %i %s', (code, status, errorClass) => {
    expect(classifyUpstreamError(withCode(code))).toMatchObject({ status, errorClass });
  });

  it('uses codes, never message text', () => {
    expect(classifyUpstreamError(new Error('connect ECONNREFUSED timeout'))).toMatchObject({ status: 502, errorClass: 'upstream_error' });
  });

  it('finds codes in causes and AggregateError members', () => {
    expect(classifyUpstreamError(new Error('outer', { cause: withCode('UND_ERR_HEADERS_TIMEOUT') })).status).toBe(504);
    expect(classifyUpstreamError(new AggregateError([withCode('ECONNREFUSED'), withCode('ETIMEDOUT')])).errorClass).toBe('upstream_unavailable');
  });
});

describe('toProxyError', () => {
  it('maps fastify body errors by code', () => {
    expect(toProxyError(withCode('FST_ERR_CTP_BODY_TOO_LARGE'))).toMatchObject({ status: 413, code: 'request_too_large' });
    expect(toProxyError(withCode('FST_ERR_CTP_INVALID_MEDIA_TYPE'))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
  });

  it('keeps ProxyErrors and hides internals of anything else', () => {
    const pe = new ProxyError(404, 'model_not_found', 'no such model');
    expect(toProxyError(pe)).toBe(pe);
    const e = toProxyError(new TypeError('secret internal detail'));
    expect(e).toMatchObject({ status: 500, code: 'internal_error', type: 'server_error' });
    expect(e.message).not.toContain('secret');
  });

  it('serializes the OpenAI error shape', () => {
    expect(JSON.parse(openAiErrorBody(new ProxyError(400, 'missing_model', 'need a model', 'invalid_request_error', 'model')))).toEqual({
      error: { message: 'need a model', type: 'invalid_request_error', param: 'model', code: 'missing_model' },
    });
  });
});
