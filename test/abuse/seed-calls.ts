// Seeds a gatelog data directory with `rows` recorded calls (bodies of ~`bodyBytes`), generated
// inside ClickHouse, before a gatelog process opens it. Runs as its own process (chDB binds a
// data directory to one process):  node seed-calls.ts <dataDir> <rows> <bodyBytes>
import { openStore } from '../../core/src/store/client.ts';
import { migrate } from '../../core/src/store/migrate.ts';

const [dataDir, rowsArg, bytesArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: seed-calls.ts <dataDir> <rows> <bodyBytes>');
const rows = Number(rowsArg ?? 20_000);
const bodyBytes = Number(bytesArg ?? 2_000);
const store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dataDir);
await migrate(store);
const db = store.database;
// Calls over the last 24 hours, newest a minute ago; ids are UUIDv7 of their start time.
await store.client.command({
  query: `INSERT INTO ${db}.llm_calls (schema_version, gatelog_version, request_id, started_at, key_id, key_name, team,
            endpoint, client_api, upstream_api, requested_model, provider, deployment_model, upstream_model, status, outcome,
            input_tokens, output_tokens, cost_usd, latency_ms, request_body, response_body, request_bytes, response_bytes)
          SELECT 1, 'seed',
            toUUID(concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(r, 1, 3), '-8', substring(r, 4, 3), '-', substring(r, 7, 12))),
            started_at, 'key_seed', 'seed', 'team-seed', '/v1/chat/completions', 'openai.chat', 'openai.chat',
            'fast', 'p', 'm', 'm', 200, 'success', 10, 5, 0.001, 12, body, '{"ok":true}', length(body), 11
          FROM (
            SELECT number AS n,
              now64(3) - toIntervalMillisecond(60000 + intDiv(n * 86300000, {rows:UInt64})) AS started_at,
              leftPad(lower(hex(toUnixTimestamp64Milli(started_at))), 12, '0') AS ms_hex,
              concat(leftPad(lower(hex(cityHash64(n, 7))), 16, '0'), leftPad(lower(hex(cityHash64(n, 8))), 16, '0')) AS r,
              concat('{"messages":[{"role":"user","content":"', repeat('lorem ipsum ', intDiv({bytes:UInt64}, 12)), toString(n), '"}]}') AS body
            FROM numbers({rows:UInt64})
          )`,
  query_params: { rows, bytes: bodyBytes },
});
await store.close();
process.exit(0);
