// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Principal } from '@gatelog/core/roles';

declare global {
  namespace App {
    interface Locals {
      /** True when the UI is open (no master key) or a live session was found. */
      authed: boolean;
      /** Whether sign-in is required at all (a master key is configured). */
      authRequired: boolean;
      /** Who is acting (role, team scope); undefined = not signed in. */
      principal: Principal | undefined;
    }
  }
}

export {};
