// A bound on how deeply a request body's JSON may nest. JSON.parse accepts any depth, but
// everything after it that walks a body recursively (JSON.stringify when a model is renamed
// or a call is translated between API shapes, token estimates, redaction) overflows the stack
// on a 100k-deep array and answered 500. Real requests (tool schemas included) nest a few
// dozen levels; this limit leaves ample room.
export const MAX_JSON_DEPTH = 256;

/** True when `value` nests arrays/objects deeper than `max`. Iterative: no recursion of its own. */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
