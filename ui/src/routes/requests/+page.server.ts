import { error } from '@sveltejs/kit';
import { parseCursor, parseFilters } from '#lib/filters.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { listPage } from '#lib/server/calls.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ url }) => {
  const filters = parseFilters(url.searchParams);
  const before = parseCursor(url.searchParams.get('before'));
  const { store } = await uiContext();
  let page;
  try {
    page = await listPage(store, filters, before);
  } catch (err) {
    console.error('gatelog ui: listing requests failed', err);
    error(503, 'The request log is not available right now.');
  }
  return {
    filters,
    paged: before !== undefined,
    older: page.older,
    rows: page.rows,
  };
};
