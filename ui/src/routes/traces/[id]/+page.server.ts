import { loadThread } from '#lib/server/thread.server.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ params }) => ({ thread: await loadThread('trace', params.id) });
