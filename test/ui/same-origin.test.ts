// The UI's same-origin check on form-like writes (ui/src/lib/server/same-origin.server.ts), which
// stands in for SvelteKit's: the same requests are refused, and only the identity provider's
// back-channel logout POST gets through without an Origin.
import { describe, expect, it } from 'vitest';
import { BACKCHANNEL_PATH, crossSiteForm } from '../../ui/src/lib/server/same-origin.server.ts';

const SELF = 'https://gatelog.example.com';
const req = (method: string, path: string, headers: Record<string, string>): [Request, URL] => {
  const url = new URL(path, SELF);
  return [new Request(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body: '' }) }), url];
};

describe('crossSiteForm', () => {
  it.each<[string, string, string, Record<string, string>, boolean]>([
    ['a form POST from this origin', 'POST', '/logout', { origin: SELF, 'content-type': 'application/x-www-form-urlencoded' }, false],
    ['a form POST from another origin', 'POST', '/logout', { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, true],
    ['a form POST with no Origin', 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, true],
    ['a multipart POST from another origin', 'POST', '/people?/create', { origin: 'https://evil.example', 'content-type': 'multipart/form-data; boundary=x' }, true],
    ['a text/plain POST from another origin', 'POST', '/keys', { origin: 'https://evil.example', 'content-type': 'Text/Plain;charset=utf-8' }, true],
    ['a POST with no content type from another origin', 'POST', '/keys', { origin: 'https://evil.example' }, true],
    ['a DELETE form from another origin', 'DELETE', '/keys', { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, true],
    ['a JSON POST from another origin (no form can send it)', 'POST', '/keys', { origin: 'https://evil.example', 'content-type': 'application/json' }, false],
    ['a GET from another origin', 'GET', '/logout', { origin: 'https://evil.example' }, false],
    ['the provider\'s back-channel logout', 'POST', BACKCHANNEL_PATH, { 'content-type': 'application/x-www-form-urlencoded' }, false],
    ['the back-channel path under another method', 'PUT', BACKCHANNEL_PATH, { 'content-type': 'application/x-www-form-urlencoded' }, true],
    ['a path that only starts like it', 'POST', `${BACKCHANNEL_PATH}/x`, { 'content-type': 'application/x-www-form-urlencoded' }, true],
  ])('%s', (_name, method, path, headers, refused) => {
    const [request, url] = req(method, path, headers);
    expect(crossSiteForm(request, url)).toBe(refused);
  });
});
