// Built-in detectors: what counts as personal data or a secret in a body, as bounded regexes
// (every quantifier has an upper bound and every match start is fenced by a look-behind, so a
// scan is linear in the text) plus a check where a shape alone says too little: Luhn for
// cards, ibantools for IBAN checksums, ipaddr.js for IPv6.
// They run on a "view" of the text in which JSON escapes are blanked (see redactor.ts), so
// they never need to know whether the text is JSON.
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import ipaddr from 'ipaddr.js';

export const DETECTOR_NAMES = ['email', 'phone', 'card', 'iban', 'ssn', 'ip', 'secrets'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** One found span of the text: [start, end) and the placeholder type. */
export interface Hit {
  start: number;
  end: number;
  type: string;
}

export interface Detector {
  name: DetectorName | 'custom';
  /**
   * Earlier detectors win overlapping spans (a key inside a URL is a key, not an IP).
   * `shapes` is `digitShapes(view)`: which digit-based rules can find anything at all.
   */
  find(view: string, out: Hit[], shapes: number): void;
  /** `find` reads `shapes` (the scan runs only when some configured detector does). */
  usesShapes?: boolean;
}

/** A regex detector: every match (optionally validated) is a hit of `type`. */
interface Rule {
  type: string;
  re: RegExp;
  valid?: (m: string) => boolean;
  /**
   * Skip the text unless it contains one of these (a cheap includes() before any regex): each
   * a part of every possible match, chosen to start with a rare character (V8 finds that with
   * memchr: `yJ` costs a tenth of `eyJ` on English text).
   */
  quick?: readonly string[];
  /** Skip the text unless `digitShapes` found this shape. */
  shape?: number;
  /** Skip the text unless this matches somewhere in it (a part of every hit, found faster than the rule's own regex scans). */
  hint?: RegExp;
  /**
   * Characters that may not precede a match: checked here rather than as a regex look-behind,
   * which would keep V8 from scanning ahead for the pattern's first literal (measured 5-30x).
   */
  notAfter?: RegExp;
}

function includesAny(view: string, parts: readonly string[]): boolean {
  for (const p of parts) if (view.includes(p)) return true;
  return false;
}

function regexDetector(name: DetectorName, rules: readonly Rule[]): Detector {
  return {
    name,
    usesShapes: rules.some((r) => r.shape !== undefined),
    find(view, out, shapes) {
      for (const r of rules) {
        if (r.quick !== undefined && !includesAny(view, r.quick)) continue;
        if (r.shape !== undefined && (shapes & r.shape) === 0) continue;
        if (r.hint !== undefined && !r.hint.test(view)) continue;
        r.re.lastIndex = 0;
        for (let m = r.re.exec(view); m !== null; m = r.re.exec(view)) {
          const text = m[0];
          if (r.notAfter && m.index > 0 && r.notAfter.test(view[m.index - 1] ?? '')) continue;
          if (r.valid && !r.valid(text)) continue;
          out.push({ start: m.index, end: m.index + text.length, type: r.type });
        }
      }
    },
  };
}

// Secrets first: their prefixes are the strongest evidence. Bodies are JSON or prose, so a token
// ends at the first character outside its alphabet.
const TOK = '(?![A-Za-z0-9_-])';
// A look-behind placed after the literal prefix, never before it: V8 then scans for the
// literal, and `sk-sk-sk-…` is rejected at each prefix instead of scanning 300 characters.
const SECRET_RULES: Rule[] = [
  { type: 'ANTHROPIC_KEY', quick: ['k-ant-'], re: new RegExp(`sk-ant-(?<![A-Za-z0-9_-]sk-ant-)[A-Za-z0-9_-]{16,300}${TOK}`, 'g') },
  { type: 'OPENAI_KEY', quick: ['k-'], re: new RegExp(`sk-(?<![A-Za-z0-9_-]sk-)(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300}${TOK}`, 'g') },
  { type: 'AWS_KEY', quick: ['IA', 'CCA'], re: /(?:AKIA|ASIA|ABIA|ACCA)(?<![A-Za-z0-9][A-Z]{4})[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  { type: 'GITHUB_TOKEN', quick: ['gh', 'github_pat_'], re: new RegExp(`(?:gh[pousr]_|github_pat_)(?<![A-Za-z0-9_](?:gh[pousr]_|github_pat_))(?:[A-Za-z0-9]{30,255}|[A-Za-z0-9_]{22,255})${TOK}`, 'g') },
  { type: 'SLACK_TOKEN', quick: ['xox'], re: new RegExp(`xox[abpr]-(?<![A-Za-z0-9_-]xox[abpr]-)[A-Za-z0-9-]{10,250}${TOK}`, 'g') },
  { type: 'JWT', quick: ['yJ'], re: /eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{4,4000}\.[A-Za-z0-9_-]{4,8000}\.[A-Za-z0-9_-]{0,2000}(?![A-Za-z0-9_-])/g },
  // The body up to END (or as far as base64 and blanked line breaks go, for a key cut short).
  {
    type: 'PRIVATE_KEY',
    quick: ['Y-----'],
    re: /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----[A-Za-z0-9+/=\s:,.]{0,16384}(?:-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----)?/g,
  },
];

/** Luhn mod-10 over the digits of `s` (separators ignored). Five lines: no library needed. */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let n = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    sum += n++ % 2 === 1 ? (c * 2 > 9 ? c * 2 - 9 : c * 2) : c;
  }
  return n >= 13 && n <= 19 && sum % 10 === 0;
}

const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
const DIGIT = /[0-9]/;
const CARD = /[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/g;
// Area 000, 666 and 900–999, group 00 and serial 0000 are never issued.
const SSN = /(?!000|666|9[0-9]{2})[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![0-9-])/g;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = new RegExp(`(?<![0-9.])(?:${OCTET}\\.){3}${OCTET}(?![0-9]|\\.[0-9])`, 'g');
// Ends on a hex digit, so a sentence's full stop is not part of the address.
const IPV6 = /(?<![0-9A-Za-z:.])[0-9A-Fa-f:][0-9A-Fa-f:.]{0,43}[0-9A-Fa-f](?![0-9A-Za-z:]|\.[0-9A-Fa-f])/g;

/**
 * In every valid address two colons follow each other with at most four hex digits between
 * (the IPv4 tail's dots come after the last colon): V8 finds this by its leading `:`, where IPV6
 * tries a match at every hex letter of the text (~7% of a long English body's redaction).
 */
const IPV6_HINT = /:[0-9A-Fa-f]{0,4}:/;

function validIpv6(m: string): boolean {
  if (m.split(':').length < 3 || !/[0-9A-Fa-f]{2}/.test(m)) return false;
  return ipaddr.IPv6.isValid(m);
}

/**
 * Phone numbers, hand-written: libphonenumber-js was measured at ~10 ms per KB of prose for its
 * text scanner and ~330 µs per candidate for its parser (min and max metadata alike), which an
 * input full of digit runs would turn into a denial of service. Three shapes cover what people
 * write: international (+ country code, 7–15 digits), North American ((415) 555-0132,
 * 415.555.0132; area and exchange never start with 0 or 1) and national trunk-prefixed
 * numbers (020 7946 0018, 030/1234567). Dates, versions and amounts match none of them.
 */
const PHONE = new RegExp([
  '\\+[1-9](?:[ ().-]{0,2}[0-9]){6,14}',
  '(?:\\([2-9][0-9]{2}\\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}',
  '0[1-9][0-9]{0,3}[ /-][0-9]{3,8}(?:[ -][0-9]{2,6})?',
].join('|'), 'g');

function phoneDigits(m: string): boolean {
  let n = 0;
  for (let i = 0; i < m.length; i++) if (m.charCodeAt(i) >= 48 && m.charCodeAt(i) <= 57) n++;
  return n >= 7 && n <= 15;
}

/*
 * Cheap scans that say which of the digit-based rules can match at all (each a necessary
 * condition of every hit, so skipping a rule never changes the result).
 * A "run" is digits each separated from the next by at most two of ` ().\/-`. Every match of
 * CARD, SSN and PHONE lies inside one run (their separators are among those, never more than
 * two in a row), and a run is matched from its first digit to its last (or its 41st, which
 * is enough for all three and ends the scan), so a rule runs only
 * when some run has what every one of its hits needs: CARD 13 digits, SSN 9; PHONE (7–15
 * digits by phoneDigits) 10 digits (North American), or 7 after a `+` (international), or 7
 * with a `0[1-9]` that starts the run or follows ` ()/` (trunk prefix: notAfter rejects a digit,
 * `.` or `-` before it). IPV4 needs four dotted groups of 1–3 digits, IBAN two capitals
 * before two digits: each a regex test, which builds no match object.
 */
const DIGIT_RUN = /[0-9](?:[ ().\/-]{0,2}[0-9]){6,40}/g;
const IPV4_HINT = /[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]/;
const IBAN_HINT = /[A-Z]{2}[0-9]{2}/;
const CARD_SHAPE = 1;
const SSN_SHAPE = 2;
const PHONE_SHAPE = 4;
const IPV4_SHAPE = 8;
const IBAN_SHAPE = 16;
const RUN_SHAPES = CARD_SHAPE | SSN_SHAPE | PHONE_SHAPE;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function digitsIn(run: string): number {
  // A run of more than 40 characters holds at least 14 digits: enough for every rule.
  if (run.length > 40) return 40;
  let n = 0;
  for (let i = 0; i < run.length; i++) if (isDigit(run.charCodeAt(i))) n++;
  return n;
}

function trunkStart(run: string): boolean {
  for (let i = run.indexOf('0'); i >= 0; i = run.indexOf('0', i + 1)) {
    const c = run.charCodeAt(i + 1);
    if (c < 49 || c > 57) continue;
    const before = i === 0 ? 32 : run.charCodeAt(i - 1);
    if (before === 32 || before === 40 || before === 41 || before === 47) return true;
  }
  return false;
}

/** Which digit-based rules can have a hit in `view` (a bit per rule, see above). */
export function digitShapes(view: string): number {
  let shapes = 0;
  if (view.includes('.') && IPV4_HINT.test(view)) shapes |= IPV4_SHAPE;
  if (IBAN_HINT.test(view)) shapes |= IBAN_SHAPE;
  DIGIT_RUN.lastIndex = 0;
  for (let m = DIGIT_RUN.exec(view); m !== null; m = DIGIT_RUN.exec(view)) {
    const run = m[0];
    const digits = digitsIn(run);
    if (digits >= 9) shapes |= SSN_SHAPE;
    if (digits >= 13) shapes |= CARD_SHAPE;
    if (digits >= 10 || view.charCodeAt(m.index - 1) === 43 /* + */ || trunkStart(run)) shapes |= PHONE_SHAPE;
    if ((shapes & RUN_SHAPES) === RUN_SHAPES) break;
  }
  return shapes;
}

/** The built-in detectors' rules, in priority order. */
const BUILTIN: readonly { name: DetectorName; rules: readonly Rule[] }[] = [
  { name: 'secrets', rules: SECRET_RULES },
  { name: 'email', rules: [{ type: 'EMAIL', quick: ['@'], re: EMAIL }] },
  { name: 'iban', rules: [{ type: 'IBAN', shape: IBAN_SHAPE, re: IBAN, valid: (m) => isValidIBAN(electronicFormatIBAN(m) ?? '') }] },
  { name: 'card', rules: [{ type: 'CARD', shape: CARD_SHAPE, re: CARD, valid: luhnValid, notAfter: DIGIT }] },
  { name: 'ssn', rules: [{ type: 'SSN', shape: SSN_SHAPE, re: SSN, notAfter: /[0-9-]/ }] },
  { name: 'ip', rules: [{ type: 'IP', re: IPV4, shape: IPV4_SHAPE }, { type: 'IP', re: IPV6, quick: [':'], hint: IPV6_HINT, valid: validIpv6 }] },
  { name: 'phone', rules: [{ type: 'PHONE', shape: PHONE_SHAPE, re: PHONE, valid: phoneDigits, notAfter: /[0-9A-Za-z+_.-]/ }] },
];

/** The built-in detectors named in config, in priority order. */
export function builtinDetectors(names: readonly DetectorName[]): Detector[] {
  const on = new Set(names);
  return BUILTIN.filter((b) => on.has(b.name)).map((b) => regexDetector(b.name, b.rules));
}

/** The placeholder types a built-in detector hands out (`secrets`: OPENAI_KEY, AWS_KEY, …). */
export function placeholderTypes(name: DetectorName): readonly string[] {
  return [...new Set(BUILTIN.find((b) => b.name === name)?.rules.map((r) => r.type) ?? [])];
}
