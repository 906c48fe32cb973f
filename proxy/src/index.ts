// @gatelog/proxy public API.
export { buildProxy, type ProxyDeps } from './app.ts';
export { OPENAI_ROOT_PATHS } from './routes/openai.ts';
export { BATCH_ROOT_PREFIXES } from './batches/index.ts';
export type { Provider, UpstreamApi, UpstreamCall, UpstreamResponse } from './providers/types.ts';
export { ProxyError } from './errors.ts';
