// Links from a spend view to the calls behind it: the requests explorer with the range and the
// dimension's filter applied (explorer-params.ts: model, provider, key, team, user, tags=k=v).
import { explorerQuery, type ExplorerState } from '#lib/explorer.ts';

export const SPEND_DIMS = ['model', 'provider', 'key', 'team', 'user', 'tag'] as const;
export type SpendDim = (typeof SPEND_DIMS)[number];

/** Values that stand for no single filterable value. */
const UNLINKED = new Set(['', '(other)']);

/**
 * The explorer link for one value of a dimension over [from, to), most expensive first when
 * `byCost`; undefined when the value cannot be filtered on (no value, the `(other)` group, a
 * tag value holding the tag filter's separators).
 */
export function callsHref(dim: SpendDim, value: string, from: string, to: string, tagKey = '', byCost = false): string | undefined {
  if (UNLINKED.has(value)) return undefined;
  const s: Partial<ExplorerState> = { from, to, ...(byCost ? { sort: 'cost' as const } : {}) };
  if (dim === 'tag') {
    if (!tagKey || /[,=]/.test(tagKey) || value.includes(',')) return undefined;
    s.tags = `${tagKey}=${value}`;
  } else s[dim] = value;
  return `/requests${explorerQuery(s)}`;
}

/** All calls of [from, to), most expensive first. */
export const topCallsHref = (from: string, to: string): string => `/requests${explorerQuery({ from, to, sort: 'cost' })}`;
