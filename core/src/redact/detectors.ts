// Built-in detectors: what counts as personal data or a secret in a body, as bounded regexes
// (every quantifier has an upper bound and every match start is fenced by a look-behind, so a
// scan is linear in the text) plus a check where a shape alone says too little: Luhn for
// cards, ibantools for IBAN checksums, ipaddr.js for IPv6, libphonenumber-js for phones.
// They run on a "view" of the text in which JSON escapes are blanked (see redactor.ts), so
// they never need to know whether the text is JSON.
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js';
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
  /** Earlier detectors win overlapping spans (a key inside a URL is a key, not an IP). */
  find(view: string, out: Hit[]): void;
}

/** A regex detector: every match (optionally validated) is a hit of `type`. */
function regexDetector(name: DetectorName, rules: readonly { type: string; re: RegExp; valid?: (m: string) => boolean; quick?: string }[]): Detector {
  return {
    name,
    find(view, out) {
      for (const r of rules) {
        if (r.quick !== undefined && !view.includes(r.quick)) continue;
        r.re.lastIndex = 0;
        for (let m = r.re.exec(view); m !== null; m = r.re.exec(view)) {
          const text = m[0];
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
const SECRET_RULES = [
  { type: 'ANTHROPIC_KEY', quick: 'sk-ant-', re: new RegExp(`(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{16,300}${TOK}`, 'g') },
  { type: 'OPENAI_KEY', quick: 'sk-', re: new RegExp(`(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300}${TOK}`, 'g') },
  { type: 'AWS_KEY', re: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  { type: 'GITHUB_TOKEN', re: new RegExp(`(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})${TOK}`, 'g') },
  { type: 'SLACK_TOKEN', quick: 'xox', re: new RegExp(`(?<![A-Za-z0-9_-])xox[abpr]-[A-Za-z0-9-]{10,250}${TOK}`, 'g') },
  { type: 'JWT', quick: 'eyJ', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,4000}\.[A-Za-z0-9_-]{4,8000}\.[A-Za-z0-9_-]{0,2000}(?![A-Za-z0-9_-])/g },
  // The body up to END (or as far as base64 and blanked line breaks go, for a key cut short).
  {
    type: 'PRIVATE_KEY',
    quick: 'PRIVATE KEY-----',
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
const CARD = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/g;
// Area 000, 666 and 900–999, group 00 and serial 0000 are never issued.
const SSN = /(?<![0-9-])(?!000|666|9[0-9]{2})[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![0-9-])/g;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = new RegExp(`(?<![0-9.])(?:${OCTET}\\.){3}${OCTET}(?![0-9]|\\.[0-9])`, 'g');
const IPV6 = /(?<![0-9A-Za-z:.])[0-9A-Fa-f:][0-9A-Fa-f:.]{1,44}(?![0-9A-Za-z:])/g;

function validIpv6(m: string): boolean {
  if (m.split(':').length < 3 || !/[0-9A-Fa-f]{2}/.test(m)) return false;
  return ipaddr.IPv6.isValid(m);
}

function phoneDetector(region: CountryCode): Detector {
  return {
    name: 'phone',
    find(view, out) {
      // A phone number has seven digits or more: text without a run of them costs one scan.
      if (!/[0-9][0-9 ().-]{5,}[0-9]/.test(view)) return;
      for (const f of findPhoneNumbersInText(view, { defaultCountry: region })) out.push({ start: f.startsAt, end: f.endsAt, type: 'PHONE' });
    },
  };
}

/** The built-in detectors named in config, in priority order. */
export function builtinDetectors(names: readonly DetectorName[], phoneRegion: string): Detector[] {
  const on = new Set(names);
  const all: Detector[] = [
    regexDetector('secrets', SECRET_RULES),
    regexDetector('email', [{ type: 'EMAIL', quick: '@', re: EMAIL }]),
    regexDetector('iban', [{ type: 'IBAN', re: IBAN, valid: (m) => isValidIBAN(electronicFormatIBAN(m) ?? '') }]),
    regexDetector('card', [{ type: 'CARD', re: CARD, valid: luhnValid }]),
    regexDetector('ssn', [{ type: 'SSN', re: SSN }]),
    regexDetector('ip', [{ type: 'IP', re: IPV4, quick: '.' }, { type: 'IP', re: IPV6, quick: ':', valid: validIpv6 }]),
    phoneDetector(phoneRegion as CountryCode),
  ];
  return all.filter((d) => d.name !== 'custom' && on.has(d.name));
}
