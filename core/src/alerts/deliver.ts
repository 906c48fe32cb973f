// Webhook delivery of alert transitions, off every request path: Slack-compatible
// (`{"text", "blocks"}`) or generic JSON signed with HMAC-SHA256. Retries, backoff and the
// rule that no URL, header or secret leaves delivery: http-delivery.ts.
import { createHmac } from 'node:crypto';
import { postWithRetries, type PostOptions, type PostRequest } from '../http-delivery.ts';
import type { AlertChannel, AlertsConfig } from './rule.ts';

export type { DeliveryAttempt } from '../http-delivery.ts';

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

export interface DeliverOptions {
  delivery: AlertsConfig['delivery'];
  record: PostOptions['record'];
  /** Stops waiting between attempts (shutdown). */
  signal?: AbortSignal | undefined;
  now?: () => number;
}

/** Deliver one message to one channel; resolves true once it was accepted (2xx). */
export function deliver(ch: AlertChannel, m: AlertMessage, o: DeliverOptions): Promise<boolean> {
  const request = (unixS: number): PostRequest => requestFor(ch, m, unixS);
  return postWithRetries(ch.url, request, { policy: o.delivery, record: o.record, signal: o.signal, now: o.now });
}
