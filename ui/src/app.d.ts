// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {
    interface Locals {
      /** True when the UI is open (no master key) or the session cookie verified. */
      authed: boolean;
      /** Whether sign-in is required at all (a master key is configured). */
      authRequired: boolean;
    }
  }
}

export {};
