// SvelteKit 3 reads its configuration from the Vite plugin (svelte.config.js is no longer
// supported). The build is adapter-node's `build/handler.js`, mounted by the embedded launcher.
import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ out: 'build', precompress: false }),
      // Logged prompts are untrusted text: no inline script runs unless SvelteKit nonced it.
      csp: {
        mode: 'auto',
        directives: {
          'default-src': ['self'],
          'script-src': ['self'],
          'style-src': ['self'],
          'img-src': ['self', 'data:'],
          'connect-src': ['self'],
          'object-src': ['none'],
          'base-uri': ['none'],
          'form-action': ['self'],
          'frame-ancestors': ['none'],
        },
      },
    }),
  ],
  // @gatelog/core is TypeScript source: bundle it (and its zod/yaml/uuid) into the server
  // build. adapter-node keeps the rest of ui's dependencies (chdb's native engine,
  // @clickhouse/client) external, resolved from ui/node_modules at run time.
  ssr: { noExternal: ['@gatelog/core'] },
});
