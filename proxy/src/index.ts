// @gatelog/proxy public API.
export { buildProxy, type ProxyDeps } from './app.ts';
export { OPENAI_ROOT_PATHS } from './routes/openai.ts';
export { isBatchRootPath } from './batches/index.ts';
export type { Provider, UpstreamApi, UpstreamCall, UpstreamResponse } from './providers/types.ts';
export { ProxyError } from './errors.ts';
