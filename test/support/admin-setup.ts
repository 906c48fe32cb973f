// Setting up an e2e test's tenants through a running gatelog's admin API with the master key:
// a virtual key of a team, a machine token of a role. Each returns the secret (shown once).

async function created(baseUrl: string, masterKey: string, path: string, body: object): Promise<string> {
  const r = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`POST ${path} answered ${r.status}: ${await r.text()}`);
  return ((await r.json()) as { secret: string }).secret;
}

/** A virtual key with the fields of `body` (POST /admin/keys): its secret. */
export const newKeyWith = (baseUrl: string, masterKey: string, body: { name: string } & Record<string, unknown>): Promise<string> => created(baseUrl, masterKey, '/admin/keys', body);

/** A virtual key named `name` in `team`: its secret. */
export const newVirtualKey = (baseUrl: string, masterKey: string, name: string, team: string): Promise<string> => newKeyWith(baseUrl, masterKey, { name, team });

/** A machine token with `role` and team scope `teams` (none = every team): its secret. */
export const newMachineToken = (baseUrl: string, masterKey: string, role: string, teams: string[] = []): Promise<string> =>
  created(baseUrl, masterKey, '/admin/tokens', { name: `bot-${role}-${crypto.randomUUID().slice(0, 6)}`, role, teams });

/**
 * The call `id` as GET /admin/calls/:id shows it once ingest stored it: polled every 100 ms for
 * up to 20 s, then an error carrying the gatelog's logs.
 */
export async function recordedCall<T>(gl: { url: string; logs(): string }, masterKey: string, id: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${gl.url}/admin/calls/${id}`, { headers: { authorization: `Bearer ${masterKey}` } });
    if (r.status === 200) return (await r.json()) as T;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`call ${id} was never recorded:\n${gl.logs()}`);
}
