// Named, parameterized queries for groups provisioned over SCIM (table scim_groups, migration
// 0029): versioned rows (ReplacingMergeTree(version)), read latest with FINAL; a deletion is a
// version with `deleted`, which every reader here leaves out.
import { z } from 'zod';
import type { Store } from './client.ts';
import { ChTime, Num } from './row-types.ts';

export const GroupRecord = z.object({
  id: z.string().min(1),
  version: Num,
  display_name: z.string(),
  external_id: z.string(),
  /** ui_users ids. */
  members: z.array(z.string()),
  deleted: z.boolean(),
  created_at: ChTime,
  updated_at: ChTime,
  updated_by: z.string(),
});
export type GroupRecord = z.infer<typeof GroupRecord>;

const COLUMNS = Object.keys(GroupRecord.shape).join(', ');

export async function insertGroupVersion(store: Store, g: GroupRecord): Promise<void> {
  await store.insertRaw('scim_groups', Buffer.from(`${JSON.stringify(GroupRecord.parse(g))}\n`));
}

async function groupsWhere(store: Store, where: string, params: Record<string, unknown>): Promise<GroupRecord[]> {
  const rs = await store.client.query({
    query: `SELECT ${COLUMNS} FROM ${store.database}.scim_groups FINAL WHERE NOT deleted ${where} ORDER BY created_at, id`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return z.array(GroupRecord).parse(await rs.json());
}

export const listGroups = (store: Store): Promise<GroupRecord[]> => groupsWhere(store, '', {});
export const groupById = async (store: Store, id: string): Promise<GroupRecord | undefined> => (await groupsWhere(store, 'AND id = {id:String}', { id }))[0];
export const groupByName = async (store: Store, name: string): Promise<GroupRecord | undefined> =>
  (await groupsWhere(store, 'AND lower(display_name) = {n:String}', { n: name.toLowerCase() }))[0];
export const groupByExternalId = async (store: Store, x: string): Promise<GroupRecord | undefined> => (await groupsWhere(store, 'AND external_id = {x:String}', { x }))[0];
/** The names of the groups `userId` is a member of. */
export async function groupNamesOf(store: Store, userId: string): Promise<string[]> {
  return (await groupsWhere(store, 'AND has(members, {u:String})', { u: userId })).map((g) => g.display_name);
}
