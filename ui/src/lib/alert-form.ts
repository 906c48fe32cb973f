// The alerts page's form as an admin API body (POST/PATCH /admin/alerts/rules): numbers parsed,
// empty fields left out so the API's defaults apply; the API validates everything.
export const FORM_KINDS = ['budget', 'spend_spike', 'error_rate', 'p95_latency', 'provider_down', 'ingest_lag', 'spool'] as const;

const num = (v: FormDataEntryValue | null): number | undefined => {
  const s = typeof v === 'string' ? v.trim() : '';
  if (s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : Number.NaN;
};
const str = (v: FormDataEntryValue | null): string | undefined => {
  const s = typeof v === 'string' ? v.trim() : '';
  return s === '' ? undefined : s;
};

export function alertRuleBody(form: FormData): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) body[k] = v;
  };
  set('id', str(form.get('id')));
  set('name', str(form.get('name')));
  set('kind', str(form.get('kind')));
  set('threshold', num(form.get('threshold')));
  set('window_s', num(form.get('window_s')));
  set('cooldown_s', num(form.get('cooldown_s')));
  set('min_calls', num(form.get('min_calls')));
  set('min_usd', num(form.get('min_usd')));
  const scope: Record<string, string> = {};
  for (const k of ['model', 'key', 'team'] as const) {
    const v = str(form.get(`scope_${k}`));
    if (v !== undefined) scope[k] = v;
  }
  body['scope'] = scope;
  body['channels'] = form.getAll('channels').filter((c): c is string => typeof c === 'string' && c !== '');
  body['enabled'] = form.get('enabled') !== null;
  return body;
}
