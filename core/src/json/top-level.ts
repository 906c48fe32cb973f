// The client's JSON with some top-level fields set (an alias's upstream model name, the
// stream_options a stream's usage needs), as the client's own text everywhere else: its
// numbers, escapes, key order and spacing reach the provider as written. Re-serialising the
// parsed body instead turns 12345678901234567891 into 12345678901234567000 and 1e999 into
// null, unescapes \u0041, and costs a JSON.stringify of the whole body (~40-100 µs for 30 KB).

import { skipSpace, stringEnd, valueEnd } from './json-scan.ts';

/**
 * `text` (a JSON object the caller parsed) with each top-level field of `set` given its value,
 * a JSON text (`JSON.stringify(v)`): every occurrence of the key replaced in place (a duplicated
 * key reads the same whichever one an upstream keeps), a key it lacks appended last. Null when
 * its top level is not written plainly (a key with an escape, which could spell one of `set`'s
 * keys): the caller re-serialises then.
 */
export function withTopLevel(text: string, set: Readonly<Record<string, string>>): string | null {
  const names = Object.keys(set);
  const found = names.map(() => false);
  let out = '';
  let at = 0;
  let keys = 0;
  let slash = text.indexOf('\\');
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return null;
  i = skipSpace(text, i + 1);
  let close: number;
  for (;;) {
    if (text.charCodeAt(i) === 125 && keys === 0) {
      close = i;
      break;
    }
    if (text.charCodeAt(i) !== 34) return null;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return null;
    // A key with an escape could spell one of `names` without matching its text.
    if (slash >= 0 && slash < i) slash = text.indexOf('\\', i);
    if (slash >= 0 && slash < keyEnd) return null;
    const keyAt = i + 1;
    const keyLength = keyEnd - 1 - keyAt;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== 58 /* : */) return null;
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    if (end <= i) return null;
    for (let n = 0; n < names.length; n++) {
      const name = names[n]!;
      if (keyLength !== name.length || !text.startsWith(name, keyAt)) continue;
      out += text.slice(at, i) + set[name]!;
      at = end;
      found[n] = true;
      break;
    }
    keys++;
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === 44) {
      i = skipSpace(text, i + 1);
      continue;
    }
    if (c !== 125) return null;
    close = i;
    break;
  }
  if (skipSpace(text, close + 1) !== text.length) return null;
  let added = '';
  for (let n = 0; n < names.length; n++) {
    if (found[n]) continue;
    added += `${keys > 0 || added !== '' ? ',' : ''}${JSON.stringify(names[n])}:${set[names[n]!]!}`;
  }
  return out + text.slice(at, close) + added + text.slice(close);
}
