// Named, parameterized queries for groups provisioned over SCIM (table scim_groups, migration
// 0029): versioned rows (ReplacingMergeTree(version)), read latest with FINAL; a deletion is a
// version with `deleted`, which every reader here leaves out.
import { z } from 'zod';
import type { Store } from './client.ts';
import { ChTime, Num } from './row-types.ts';
import { versionedRows } from './versioned-rows.ts';

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

const groups = versionedRows('scim_groups', GroupRecord);
export const insertGroupVersion = (store: Store, g: GroupRecord): Promise<void> => groups.insert(store, g);
/** `where`: more conditions (`AND …`) on the groups not deleted. */
const groupsWhere = (store: Store, where: string, params: Record<string, unknown>): Promise<GroupRecord[]> => groups.where(store, `WHERE NOT deleted ${where}`, params);

export const listGroups = (store: Store): Promise<GroupRecord[]> => groupsWhere(store, '', {});
export const groupById = async (store: Store, id: string): Promise<GroupRecord | undefined> => (await groupsWhere(store, 'AND id = {id:String}', { id }))[0];
export const groupByName = async (store: Store, name: string): Promise<GroupRecord | undefined> =>
  (await groupsWhere(store, 'AND lower(display_name) = {n:String}', { n: name.toLowerCase() }))[0];
export const groupByExternalId = async (store: Store, x: string): Promise<GroupRecord | undefined> => (await groupsWhere(store, 'AND external_id = {x:String}', { x }))[0];
/** The names of the groups `userId` is a member of. */
export async function groupNamesOf(store: Store, userId: string): Promise<string[]> {
  return (await groupsWhere(store, 'AND has(members, {u:String})', { u: userId })).map((g) => g.display_name);
}
