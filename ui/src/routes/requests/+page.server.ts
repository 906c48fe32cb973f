import { error } from '@sveltejs/kit';
import { listExplorer } from '@gatelog/core/store/explorer-queries';
import { encodeAfter, explorerQuery, parseAfter, parseExplorer, toFilter } from '#lib/explorer.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { withReadPreviews } from '#lib/server/calls.server.ts';
import { mayReadBodies, previewsFor, scopeOf } from '#lib/server/permissions.server.ts';
import { recordAudit } from '#lib/server/audit.server.ts';
import { checkExplorerParams } from '@gatelog/core/store/read-params';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import { withFeedback } from '#lib/server/feedback.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const { url } = event;
  readOr400(() => checkExplorerParams(url.searchParams));
  const state = parseExplorer(url.searchParams);
  // `before` names the keyset cursor (the next page in the chosen sort direction); the name
  // predates other sort orders and is kept so shared links keep working.
  const after = parseAfter(url.searchParams.get('before'), state.sort);
  // Searching the bodies would reveal them: roles without bodies.read filter by metadata only.
  if (state.q && !mayReadBodies(event.locals.principal)) error(403, 'Searching prompt and response text is not available for your role.');
  const { store } = await uiContext();
  // What people search the bodies for is audited: one `calls.search` row per search page.
  if (state.q) await recordAudit(event, { action: 'calls.search', targetType: 'llm_calls', target: '', details: { text: state.q, match: state.match || 'words', filter: explorerQuery(state), paged: after !== undefined } });
  try {
    const page = await listExplorer(store, { ...toFilter(state), ...scopeOf(event.locals.principal) }, { sort: state.sort, dir: state.dir, after, limit: 50 });
    return {
      state,
      paged: after !== undefined,
      next: page.next ? encodeAfter(page.next) : undefined,
      rows: await withFeedback(store, previewsFor(event.locals.principal, withReadPreviews(page.rows))),
    };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: listing requests failed', err);
    error(503, 'The request log is not available right now.');
  }
};
