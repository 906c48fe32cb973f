// gatelog.yaml read into its schema (config.ts): the file, the built-in defaults and the
// environment. `${VAR}` / `${VAR:-default}` interpolate the environment inside string values
// (after YAML parsing, so an env value can never change the document's structure). Every failure
// names the file, the field path and what was expected.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { withCloudCredentials } from './cloud-credentials.ts';
import { ConfigError, GatelogConfig } from './config.ts';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const SLOT = /__GATELOG_ENV_(\d+)__/g;
const WHOLE_SLOT = /^__GATELOG_ENV_(\d+)__$/;

interface EnvRef {
  name: string;
  fallback: string | undefined;
}

/**
 * `${VAR}` is written unquoted inside flow mappings (`{ api_key: ${OPENAI_API_KEY} }`), which
 * YAML cannot parse as-is. Each reference becomes an inert slot token before parsing and is
 * resolved in the parsed values afterwards: the documented syntax works, and an env value can
 * never change the document's structure.
 */
function slotVariables(text: string): { text: string; refs: EnvRef[] } {
  const refs: EnvRef[] = [];
  const out = text.replace(VAR, (_m, name: string, fallback: string | undefined) => {
    refs.push({ name, fallback });
    return `__GATELOG_ENV_${refs.length - 1}__`;
  });
  return { text: out, refs };
}

function resolveRef(ref: EnvRef, env: Record<string, string | undefined>, path: (string | number)[], file: string): string {
  const v = env[ref.name];
  if (v !== undefined && v !== '') return v;
  if (ref.fallback !== undefined) return ref.fallback;
  throw new ConfigError(`${file}: ${formatPath(path)}: environment variable ${ref.name} is not set`);
}

function interpolate(value: unknown, ctx: { env: Record<string, string | undefined>; refs: EnvRef[]; file: string }, path: (string | number)[]): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_SLOT.exec(value);
    if (whole) {
      // A value that is only `${VAR}` takes the variable's scalar type (port: ${PORT} is a number).
      const v = resolveRef(ctx.refs[Number(whole[1])]!, ctx.env, path, ctx.file);
      if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
      if (v === 'true' || v === 'false') return v === 'true';
      return v;
    }
    return value.replace(SLOT, (_m, i: string) => resolveRef(ctx.refs[Number(i)]!, ctx.env, path, ctx.file));
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, ctx, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, ctx, [...path, k])]));
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/**
 * A union's failure as the issues of the one branch the value's type matched (a mapping given
 * where a URL or a mapping is allowed is wrong in the mapping's own fields), else as it is.
 */
function expandUnions(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((iss) => {
    if (iss.code !== 'invalid_union') return [iss];
    const typed = iss.errors.filter((b) => !(b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0));
    if (typed.length !== 1) return [iss];
    return expandUnions(typed[0]!.map((i) => ({ ...i, path: [...iss.path, ...i.path] })));
  });
}

export function formatZodError(file: string, err: z.ZodError): string {
  return expandUnions(err.issues)
    .map((iss) => {
      let msg = iss.message;
      if (iss.code === 'unrecognized_keys') msg = `unknown field(s) ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${file}: ${formatPath(iss.path)}: ${msg}`;
    })
    .join('\n');
}

export function parseConfig(raw: unknown, file: string, env: Record<string, string | undefined>, refs: EnvRef[] = []): GatelogConfig {
  const interpolated = interpolate(raw ?? {}, { env, refs, file }, []);
  const r = GatelogConfig.safeParse(interpolated);
  if (!r.success) throw new ConfigError(formatZodError(file, r.error));
  const cloud = withCloudCredentials(r.data.providers, env);
  if (cloud.issues.length > 0) throw new ConfigError(cloud.issues.map((i) => `${file}: ${formatPath(['providers', ...i.path])}: ${i.message}`).join('\n'));
  return { ...r.data, providers: cloud.providers };
}

/** The configuration when no file is given: a built-in mock, plus real providers whose keys are set. */
export function defaultConfig(env: Record<string, string | undefined>): GatelogConfig {
  const providers: Record<string, unknown> = { mock: { kind: 'mock', latency_ms: Number(env['GATELOG_MOCK_LATENCY_MS'] ?? 0) || 0 } };
  const models: unknown[] = [
    { name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
    { name: 'mock-embed', deployments: [{ provider: 'mock', model: 'mock-embed' }] },
  ];
  if (env['OPENAI_API_KEY']) {
    providers['openai'] = { kind: 'openai', base_url: env['OPENAI_BASE_URL'] ?? 'https://api.openai.com/v1', api_key: '${OPENAI_API_KEY}' };
  }
  if (env['ANTHROPIC_API_KEY']) {
    // Native Messages API (not ANTHROPIC_BASE_URL: Claude Code users point that at gatelog itself).
    providers['anthropic'] = { kind: 'anthropic', base_url: 'https://api.anthropic.com', api_key: '${ANTHROPIC_API_KEY}' };
  }
  const slotted = slotVariables(JSON.stringify({ providers, models }));
  return parseConfig(JSON.parse(slotted.text), '(built-in defaults)', env, slotted.refs);
}

export interface LoadedConfig {
  config: GatelogConfig;
  /** Absolute path of the file read, or null for the built-in defaults. */
  file: string | null;
}

export function loadConfig(opts: { path?: string | undefined; env: Record<string, string | undefined> }): LoadedConfig {
  const path = opts.path ?? opts.env['GATELOG_CONFIG'];
  if (!path) return { config: defaultConfig(opts.env), file: null };
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read configuration (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const slotted = slotVariables(text);
  const doc = parseDocument(slotted.text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}: YAML: ${e.message}`).join('\n'));
  }
  return { config: parseConfig(doc.toJS(), file, opts.env, slotted.refs), file };
}
