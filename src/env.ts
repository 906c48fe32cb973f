// The embedded launcher's environment. Every service's schema lives in core (core/src/env.ts),
// the one place gatelog reads process.env.
export { EmbeddedEnv as Env, embeddedEnv } from '@gatelog/core/env';
