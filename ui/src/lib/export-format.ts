// Export encodings. CSV cells that a spreadsheet would read as a formula (= + - @, tab, CR
// first) get a leading single quote (OWASP "CSV injection"); JSONL is the rows as-is.

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) s = '';
  else if (typeof v === 'string') s = FORMULA_START.test(v) ? `'${v}` : v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else {
    const json = JSON.stringify(v);
    s = FORMULA_START.test(json) ? `'${json}` : json;
  }
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

export function jsonlLine(row: unknown): string {
  return `${JSON.stringify(row)}\n`;
}
