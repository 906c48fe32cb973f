// Small runtime checks for client-supplied JSON; each failure is a TranslateError naming the field.
import { TranslateError } from './errors.ts';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, param: string): Json {
  if (!isObject(v)) throw new TranslateError('invalid_request', `expected an object`, param);
  return v;
}

export function expectArray(v: unknown, param: string): unknown[] {
  if (!Array.isArray(v)) throw new TranslateError('invalid_request', `expected an array`, param);
  return v;
}

export function expectString(v: unknown, param: string): string {
  if (typeof v !== 'string') throw new TranslateError('invalid_request', `expected a string`, param);
  return v;
}

/** undefined and null both mean "absent" in both APIs. */
export function optString(v: unknown, param: string): string | undefined {
  return v === undefined || v === null ? undefined : expectString(v, param);
}

export function optNumber(v: unknown, param: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TranslateError('invalid_request', `expected a number`, param);
  return v;
}

export function optBoolean(v: unknown, param: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new TranslateError('invalid_request', `expected a boolean`, param);
  return v;
}

/** Parses JSON without throwing; undefined on failure. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
