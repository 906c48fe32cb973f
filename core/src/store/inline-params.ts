// Query isolation in the embedded store: long reads bind their values without chDB's
// process-wide parameter queue.
//
// chdb-node runs every parameterized query (`queryBindAsync`, on any session) through ONE
// process-wide promise chain, because the bundled libchdb's parameter set/reset is not
// isolated per connection (see chdb/index.js, `globalParamChain`). A parameterized export
// whose client reads slowly therefore held that chain for as long as the download lasted:
// revocation's key lookup and every UI page waited behind it (35 s measured). Options weighed:
//   - a separate chDB session for exports: already the case, and not enough: the chain is
//     shared by all sessions (measured: a second session's bound query waited > 5 s behind a
//     blocked export; unbound queries on another session answered in ~25 ms);
//   - spooling the export to a bounded file so the query ends at the engine's speed: the
//     chain is still held for the engine's time (tens of seconds for a large export);
//   - serving key checks from the in-memory key ring: they already are; page loads are not;
//   - binding the long read's values without the chain (chosen): each `{name:Type}`
//     placeholder becomes `CAST(unhex('<hex of the value's text>') AS Type)`. The value
//     reaches the engine as hex digits only, so it can never be read as SQL, and it is parsed
//     as its declared type exactly as a bound parameter is. The query then runs on its own
//     session, unchained and in parallel with everything else.
// The placeholder's type comes from our own query text; only values come from users.

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}/g;

/** The text form of a parameter value, as ClickHouse parses a bound parameter of that type. */
function valueText(name: string, v: unknown, inArray = false): string {
  // Inside an array's text form strings are quoted literals (the whole text still travels as hex).
  if (typeof v === 'string') return inArray ? `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'` : v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v) && !inArray) return `[${v.map((x) => valueText(name, x, true)).join(',')}]`;
  throw new TypeError(`Parameter ${name} cannot be inlined (${typeof v}); only strings, booleans, finite numbers and flat arrays of them are.`);
}

/**
 * `query` with every `{name:Type}` placeholder replaced by a typed constant holding
 * `params[name]`. Throws if a placeholder has no value (as the engine would).
 */
export function inlineParams(query: string, params: Record<string, unknown>): string {
  return query.replace(PLACEHOLDER, (_, name: string, type: string) => {
    if (!Object.hasOwn(params, name)) throw new TypeError(`No value for query parameter ${name}.`);
    const hex = Buffer.from(valueText(name, params[name]), 'utf8').toString('hex');
    return `CAST(unhex('${hex}') AS ${type})`;
  });
}
