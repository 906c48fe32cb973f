// Numbered migrations (core/src/store/migrations/NNNN_name.sql), applied in order at start
// and recorded in `schema_migrations`. A landed migration is never edited: add a new one.
import { readdirSync, readFileSync } from 'node:fs';
import type { Store } from './client.ts';

const DIR = new URL('./migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function listMigrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(new URL(f, DIR), 'utf8')
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('--'))
        .join('\n');
      return {
        version: Number(f.slice(0, 4)),
        name: f.replace(/\.sql$/, ''),
        statements: sql.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter(Boolean),
      };
    });
}

/** A column or index change of one table: the kind of ALTER that several can share one statement. */
const SCHEMA_ALTER = /^ALTER TABLE (\S+) ((?:ADD|DROP|MODIFY) (?:COLUMN|INDEX) [\s\S]*)$/;

/**
 * A migration's statements with consecutive column and index changes of one table joined into
 * one ALTER (`ALTER TABLE t ADD COLUMN a …, ADD COLUMN b …`). ClickHouse applies each ALTER as a
 * metadata change of its own, and a fresh store pays that per statement: on a busy machine the
 * schema of a new data dir took seconds longer than the same changes made together (migrate.test.ts
 * checks the schema is the same). Mutations (MATERIALIZE), settings and TTL stay statements of their own.
 */
export function joinAlters(statements: readonly string[]): string[] {
  const out: string[] = [];
  let table: string | null = null;
  for (const stmt of statements) {
    const m = /\bSETTINGS\b|--/.test(stmt) ? null : SCHEMA_ALTER.exec(stmt);
    if (m && m[1] === table) {
      out[out.length - 1] += `, ${m[2]}`;
      continue;
    }
    table = m ? m[1]! : null;
    out.push(stmt);
  }
  return out;
}

/** Apply pending migrations; returns the versions applied now. */
export async function migrate(store: Store): Promise<number[]> {
  const db = store.database;
  await store.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await store.client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await store.client.query({ query: `SELECT version FROM ${db}.schema_migrations FINAL`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of listMigrations()) {
    if (done.has(m.version)) continue;
    for (const stmt of joinAlters(m.statements)) {
      await store.client.command({ query: stmt.replaceAll('{db}', db) });
    }
    await store.client.command({
      query: `INSERT INTO ${db}.schema_migrations (version, name) VALUES ({v:UInt32}, {n:String})`,
      query_params: { v: m.version, n: m.name },
    });
    applied.push(m.version);
  }
  return applied;
}
