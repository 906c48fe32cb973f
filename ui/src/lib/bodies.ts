// Turns recorded request/response bodies into messages for display. Pure: no I/O, never
// throws on hostile input, and never rewrites text: strings are shown exactly as logged.
// Anything it does not recognise is left to the raw view.

export type Part =
  | { kind: 'text'; text: string }
  | { kind: 'image'; label: string }
  | { kind: 'data'; label: string; text: string };

export interface Message {
  role: string;
  /** Extra identification: a tool name, a tool call id, a participant name. */
  note: string;
  parts: Part[];
}

type Json = unknown;

function isObj(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function pretty(v: Json): string {
  return JSON.stringify(v, null, 2) ?? String(v);
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function imageLabel(part: Record<string, Json>): string {
  const openai = isObj(part['image_url']) ? str(part['image_url']['url']) : str(part['image_url']);
  const source = isObj(part['source']) ? part['source'] : undefined;
  const url = openai ?? (source ? str(source['url']) : undefined);
  if (url && !url.startsWith('data:')) return `image: ${url}`;
  const mime = url?.slice(5, url.indexOf(';')) || (source ? str(source['media_type']) : undefined) || 'unknown type';
  return `image (inline ${mime})`;
}

/** One content part (OpenAI or Anthropic shape) as a display part. */
function toPart(p: Json): Part {
  if (typeof p === 'string') return { kind: 'text', text: p };
  if (!isObj(p)) return { kind: 'data', label: 'part', text: pretty(p) };
  const type = str(p['type']) ?? '';
  if (type === 'image_url' || type === 'image' || type === 'input_image') return { kind: 'image', label: imageLabel(p) };
  if (type === 'tool_use') return { kind: 'data', label: `tool call: ${str(p['name']) ?? '?'}`, text: pretty(p['input']) };
  if (type === 'tool_result') {
    const c = p['content'];
    return { kind: 'data', label: `tool result: ${str(p['tool_use_id']) ?? ''}`, text: typeof c === 'string' ? c : pretty(c) };
  }
  const text = str(p['text']) ?? str(p['thinking']);
  if (text !== undefined && (type === '' || type.endsWith('text') || type === 'thinking')) {
    return type === 'thinking' ? { kind: 'data', label: 'thinking', text } : { kind: 'text', text };
  }
  if (type === 'input_audio' || type === 'audio') return { kind: 'image', label: 'audio' };
  if (type === 'file' || type === 'document' || type === 'input_file') return { kind: 'image', label: type };
  return { kind: 'data', label: type || 'part', text: pretty(p) };
}

function contentParts(content: Json): Part[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return [{ kind: 'text', text: content }];
  if (Array.isArray(content)) return content.map(toPart);
  return [toPart(content)];
}

function toolCallParts(calls: Json): Part[] {
  if (!Array.isArray(calls)) return [];
  return calls.map((c): Part => {
    const fn = isObj(c) && isObj(c['function']) ? c['function'] : undefined;
    const args = fn ? fn['arguments'] : undefined;
    return {
      kind: 'data',
      label: `tool call: ${(fn && str(fn['name'])) ?? '?'}${isObj(c) && str(c['id']) ? ` (${str(c['id'])})` : ''}`,
      text: typeof args === 'string' ? args : pretty(args ?? c),
    };
  });
}

function toMessage(m: Json, fallbackRole: string): Message {
  if (!isObj(m)) return { role: fallbackRole, note: '', parts: contentParts(m) };
  const note = str(m['name']) ?? str(m['tool_call_id']) ?? '';
  const parts = [...contentParts(m['content']), ...toolCallParts(m['tool_calls'])];
  const refusal = str(m['refusal']);
  if (refusal) parts.push({ kind: 'data', label: 'refusal', text: refusal });
  return { role: str(m['role']) ?? str(m['type']) ?? fallbackRole, note, parts };
}

function listOf(v: Json, role: string): Message[] {
  if (typeof v === 'string') return [{ role, note: '', parts: [{ kind: 'text', text: v }] }];
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? { role, note: '', parts: [{ kind: 'text' as const, text: x }] } : toMessage(x, role)));
  return [];
}

/** The prompt of a recorded request body, or null when it is not a recognised JSON shape. */
export function requestMessages(body: string): Message[] | null {
  const j = parseJson(body);
  if (!isObj(j)) return null;
  const out: Message[] = [];
  // Anthropic Messages and the Responses API keep the system prompt outside `messages`.
  if (j['system'] !== undefined) out.push({ role: 'system', note: '', parts: contentParts(j['system']) });
  if (typeof j['instructions'] === 'string') out.push({ role: 'system', note: 'instructions', parts: [{ kind: 'text', text: j['instructions'] }] });
  if (Array.isArray(j['messages'])) out.push(...j['messages'].map((m) => toMessage(m, 'user')));
  else if (j['prompt'] !== undefined) out.push(...listOf(j['prompt'], 'prompt'));
  else if (j['input'] !== undefined) out.push(...listOf(j['input'], 'input'));
  return out.length ? out : null;
}

function sseMessages(body: string): Message[] | null {
  if (!/^(data|event):/m.test(body)) return null;
  let text = '';
  const calls = new Map<number, { name: string; args: string }>();
  for (const line of body.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const j = parseJson(line.slice(5).trim());
    if (!isObj(j)) continue;
    const choice = Array.isArray(j['choices']) ? j['choices'][0] : undefined;
    const delta = isObj(choice) && isObj(choice['delta']) ? choice['delta'] : undefined;
    if (delta) {
      text += str(delta['content']) ?? '';
      if (Array.isArray(delta['tool_calls'])) {
        for (const tc of delta['tool_calls']) {
          if (!isObj(tc)) continue;
          const i = typeof tc['index'] === 'number' ? tc['index'] : 0;
          const fn = isObj(tc['function']) ? tc['function'] : {};
          const cur = calls.get(i) ?? { name: '', args: '' };
          cur.name += str(fn['name']) ?? '';
          cur.args += str(fn['arguments']) ?? '';
          calls.set(i, cur);
        }
      }
    } else if (isObj(j['delta'])) {
      // Anthropic content_block_delta.
      text += str(j['delta']['text']) ?? '';
    }
  }
  const parts: Part[] = text ? [{ kind: 'text', text }] : [];
  for (const c of calls.values()) parts.push({ kind: 'data', label: `tool call: ${c.name || '?'}`, text: c.args });
  return parts.length ? [{ role: 'assistant', note: 'streamed', parts }] : null;
}

/** The answer in a recorded response body, or null when the raw body should be shown. */
export function responseMessages(body: string): Message[] | null {
  const j = parseJson(body);
  if (j === undefined) return sseMessages(body);
  if (!isObj(j)) return null;
  if (Array.isArray(j['choices'])) {
    const out = j['choices'].map((c): Message => {
      if (isObj(c) && isObj(c['message'])) return toMessage(c['message'], 'assistant');
      if (isObj(c) && typeof c['text'] === 'string') return { role: 'completion', note: '', parts: [{ kind: 'text', text: c['text'] }] };
      return { role: 'choice', note: '', parts: [{ kind: 'data', label: 'choice', text: pretty(c) }] };
    });
    return out.length ? out : null;
  }
  if (j['type'] === 'message' && Array.isArray(j['content'])) return [toMessage(j, 'assistant')];
  if (Array.isArray(j['output'])) {
    const msgs = j['output'].filter((o) => isObj(o) && o['type'] === 'message').map((o) => toMessage(o, 'assistant'));
    return msgs.length ? msgs : null;
  }
  return null;
}

const CONTENT_KEY = /"(?:content|text|prompt|input)"\s*:\s*"/;

/**
 * A one-line preview from the first bytes of a request body (possibly cut mid-JSON): the
 * first string-valued prompt field, decoded, else the raw prefix.
 */
export function promptPreview(prefix: string, max = 120): string {
  const m = CONTENT_KEY.exec(prefix);
  if (!m) return prefix.slice(0, max);
  let out = '';
  for (let i = m.index + m[0].length; i < prefix.length && out.length < max; i++) {
    const ch = prefix[i]!;
    if (ch === '"') break;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const esc = prefix[++i];
    if (esc === undefined) break;
    if (esc === 'u') {
      const hex = prefix.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) break;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += ({ n: ' ', r: ' ', t: ' ', b: '', f: '' } as Record<string, string>)[esc] ?? esc;
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}
