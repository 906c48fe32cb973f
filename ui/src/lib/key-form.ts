// The keys page's create form → the admin API's create body. Only filled-in fields are sent
// (the API applies its own defaults and validation, and its messages are shown as they are).
export const KEY_FORM_FIELDS = ['name', 'team', 'owner', 'models', 'budget_usd', 'budget_period', 'rpm', 'tpm', 'max_parallel', 'user_rpm', 'user_tpm', 'user_budget_usd', 'user_budget_period', 'require_user', 'expires'] as const;

export function keyCreateBody(form: FormData): Record<string, string> {
  const body: Record<string, string> = {};
  for (const f of KEY_FORM_FIELDS) {
    const v = form.get(f);
    if (typeof v === 'string' && v.trim() !== '') body[f] = v.trim();
  }
  return body;
}

