// SvelteKit 3 reads its configuration from the Vite plugin (svelte.config.js is no longer
// supported). The build is adapter-node's `build/handler.js`, mounted by the embedded launcher.
import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig, type Plugin } from 'vite';

/**
 * adapter-node assumes https unless PROTOCOL_HEADER names a header carrying the scheme; on a
 * plain-http port its CSRF origin check would then refuse every form POST. The build's default
 * is gatelog's own header, which the embedded launcher sets on every request it hands the UI
 * (overwriting whatever the client sent), so the launcher never writes process.env. An
 * operator's PROTOCOL_HEADER (or ORIGIN) still wins; without the header the scheme stays https.
 */
const gatelogProtocolHeader: Plugin = {
  name: 'gatelog-protocol-header',
  transform(code, id) {
    if (!/@sveltejs[/+]adapter-node.*\/src\/handler\.js$/.test(id)) return null;
    const from = "env('PROTOCOL_HEADER', '')";
    if (!code.includes(from)) throw new Error(`gatelog-protocol-header: ${from} not found in adapter-node's handler (adapter-node changed?)`);
    return code.replace(from, "env('PROTOCOL_HEADER', 'x-gatelog-proto')");
  },
};

export default defineConfig({
  plugins: [
    gatelogProtocolHeader,
    sveltekit({
      adapter: adapter({ out: 'build', precompress: false }),
      // The same-origin check on form POSTs is hooks.server.ts's (crossSiteForm): it must let the
      // identity provider's back-channel logout through, which SvelteKit's own check cannot.
      csrf: { trustedOrigins: ['*'] },
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
  // @clickhouse/client) external, resolved from ui/node_modules at run time. One core module
  // stays external: ui-context, through which the embedded launcher hands the UI its store
  // (the launcher and the UI must share that module, not each hold a bundled copy).
  ssr: { noExternal: ['@gatelog/core'] },
  environments: { ssr: { build: { rolldownOptions: { external: ['@gatelog/core/ui-context'] } } } },
});
