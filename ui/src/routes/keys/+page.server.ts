// /keys: every virtual key with its spend in the current budget period and its last use.
// Only signed-in sessions get here (hooks.server.ts); the rows carry no hash or secret
// (core listKeyViews builds them field by field).
import { error } from '@sveltejs/kit';
import { listKeyViews } from '@gatelog/core/store/key-stats';
import { uiContext } from '#lib/server/context.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  const { store } = await uiContext();
  const now = Date.now();
  try {
    return { keys: await listKeyViews(store, now), now: new Date(now).toISOString() };
  } catch (err) {
    console.error('gatelog ui: listing keys failed', err);
    error(500, 'keys could not be read');
  }
};
