// Webhook delivery of alert transitions, off every request path: Slack-compatible
// (`{"text", "blocks"}`) or generic JSON signed with HMAC-SHA256. A message is retried with
// exponential backoff on 5xx, 429, timeouts and network errors, at most `attempts` times;
// other 4xx answers are final. Every attempt is reported to `record` with an error *code*
// only: the URL (which often carries a token), headers and secrets never leave this module.
import { createHmac } from 'node:crypto';
import type { AlertChannel, AlertsConfig } from './rule.ts';

export interface AlertMessage {
  type: 'alert.fired' | 'alert.resolved';
  incident_id: string;
  rule: { id: string; name: string; kind: string };
  subject: string;
  value: number;
  threshold: number;
  window_s: number;
  /** ISO time of the transition. */
  at: string;
  message: string;
}

export interface DeliveryAttempt {
  attempt: number;
  http_status: number;
  /** '' on success; `http_<status>`, `timeout` or a network error code otherwise. */
  error: string;
  duration_ms: number;
  final: boolean;
}

export const SIGNATURE_HEADER = 'x-gatelog-signature';
/** Receivers should refuse a signature older than this (replayed messages). */
export const REPLAY_WINDOW_S = 300;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signBody(secret: string, body: string, unixS: number): string {
  const mac = createHmac('sha256', secret).update(`${unixS}.${body}`).digest('hex');
  return `t=${unixS},v1=${mac}`;
}

export function slackPayload(m: AlertMessage): { text: string; blocks: object[] } {
  const icon = m.type === 'alert.fired' ? ':rotating_light:' : ':white_check_mark:';
  const state = m.type === 'alert.fired' ? 'FIRING' : 'RESOLVED';
  const text = `${icon} [${state}] ${m.rule.name} (${m.subject}): ${m.message}`;
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${state}: ${m.rule.name}`.slice(0, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: m.message.slice(0, 2900) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `rule \`${m.rule.id}\` (${m.rule.kind}) · ${m.subject} · ${m.at} · incident ${m.incident_id}` }] },
    ],
  };
}

export function requestFor(ch: AlertChannel, m: AlertMessage, nowS: number): { body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'gatelog-alerts' };
  if (ch.kind === 'slack') return { body: JSON.stringify(slackPayload(m)), headers };
  const body = JSON.stringify(m);
  return { body, headers: { ...headers, [SIGNATURE_HEADER]: signBody(ch.secret, body, nowS), 'x-gatelog-event': m.type, 'x-gatelog-incident': m.incident_id } };
}

function errorCode(err: unknown): string {
  let e = err as { name?: string; code?: unknown; cause?: unknown } | null;
  for (let i = 0; i < 4 && e; i++) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
    if (typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return 'network_error';
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

export interface DeliverOptions {
  delivery: AlertsConfig['delivery'];
  record: (a: DeliveryAttempt) => Promise<void> | void;
  /** Stops waiting between attempts (shutdown). */
  signal?: AbortSignal | undefined;
  now?: () => number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** Deliver one message to one channel; resolves true once it was accepted (2xx). */
export async function deliver(ch: AlertChannel, m: AlertMessage, o: DeliverOptions): Promise<boolean> {
  const d = o.delivery;
  for (let attempt = 1; attempt <= d.attempts; attempt++) {
    if (o.signal?.aborted) return false;
    const { body, headers } = requestFor(ch, m, Math.floor((o.now ?? Date.now)() / 1000));
    const t0 = performance.now();
    let status = 0;
    let error = '';
    try {
      const res = await fetch(ch.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(d.timeout_ms) });
      status = res.status;
      await res.body?.cancel();
      if (status < 200 || status >= 300) error = `http_${status}`;
    } catch (err) {
      error = errorCode(err);
    }
    const again = error !== '' && (status === 0 || retryable(status)) && attempt < d.attempts;
    await o.record({ attempt, http_status: status, error, duration_ms: performance.now() - t0, final: !again });
    if (!error) return true;
    if (!again) return false;
    await sleep(Math.min(d.max_ms, d.base_ms * 2 ** (attempt - 1)), o.signal);
  }
  return false;
}
