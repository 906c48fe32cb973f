// @gatelog/proxy public API.
export { buildProxy, type ProxyDeps } from './app.ts';
export type { Provider, UpstreamApi, UpstreamCall, UpstreamResponse } from './providers/types.ts';
export { ProxyError } from './errors.ts';
