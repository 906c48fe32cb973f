// "Copy as curl" for a logged call: the exact body, the same endpoint and trace headers, and
// never a credential — the key is the shell variable $GATELOG_KEY, the base URL $GATELOG_URL.

/** Single-quote a value for POSIX shells. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface CurlInput {
  endpoint: string;
  request_body: string;
  trace_id: string;
  session_id: string;
  user: string;
  tags: Record<string, string>;
}

export function curlCommand(c: CurlInput): string {
  const lines = [`curl "$GATELOG_URL"${shellQuote(c.endpoint)}`, `-H 'Authorization: Bearer '"$GATELOG_KEY"`, `-H 'content-type: application/json'`];
  if (c.trace_id) lines.push(`-H ${shellQuote(`x-gatelog-trace-id: ${c.trace_id}`)}`);
  if (c.session_id) lines.push(`-H ${shellQuote(`x-gatelog-session-id: ${c.session_id}`)}`);
  if (c.user) lines.push(`-H ${shellQuote(`x-gatelog-user: ${c.user}`)}`);
  const tags = Object.entries(c.tags).map(([k, v]) => `${k}=${v}`).join(',');
  if (tags) lines.push(`-H ${shellQuote(`x-gatelog-tags: ${tags}`)}`);
  // A quoted heredoc passes the body byte for byte (no expansion); its end marker is made
  // unique against the body.
  let marker = 'GATELOG_BODY';
  while (c.request_body.split('\n').includes(marker)) marker += '_';
  lines.push(`--data-binary @- <<'${marker}'`);
  return `${lines.join(' \\\n  ')}\n${c.request_body}\n${marker}`;
}
