// Versioned rows (ReplacingMergeTree(version)): every change inserts a whole new version of the
// row, readers take the latest with FINAL. One pair of functions per table, shared by people,
// machine tokens and SCIM groups: the insert checks the row against its schema, the read selects
// the schema's columns and checks what comes back.
import { z } from 'zod';
import type { Store } from './client.ts';

export interface VersionedRows<S extends z.ZodObject> {
  insert(store: Store, row: z.input<S>): Promise<void>;
  /** The latest versions `where` (a whole clause, `WHERE …`, or '') selects, oldest first. */
  where(store: Store, where: string, params: Record<string, unknown>): Promise<z.infer<S>[]>;
}

export function versionedRows<S extends z.ZodObject>(table: string, schema: S): VersionedRows<S> {
  const columns = Object.keys(schema.shape).join(', ');
  const rows = z.array(schema);
  return {
    async insert(store, row) {
      await store.insertRaw(table, Buffer.from(`${JSON.stringify(schema.parse(row))}\n`));
    },
    async where(store, where, params) {
      const rs = await store.client.query({
        query: `SELECT ${columns} FROM ${store.database}.${table} FINAL ${where} ORDER BY created_at, id`,
        query_params: params,
        format: 'JSONEachRow',
      });
      return rows.parse(await rs.json());
    },
  };
}
