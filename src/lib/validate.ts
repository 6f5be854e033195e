/**
 * Small schema readers for request bodies. Each reader checks one value at a path and throws
 * InvalidParameter with a message that names the path and the rule, e.g.
 * `hls[0].video.width must be an even integer from 36 to 4096`.
 */
import { invalidParameter } from '../errors.ts';

/** `join('', 'hls')` → `hls`, `join('hls[0]', 'video')` → `hls[0].video`. */
export function fieldPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function describe(path: string): string {
  return path === '' ? 'the request body' : path;
}

/** An object whose keys are all in `known`; unknown fields are rejected, not ignored. */
export function readObject(value: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParameter(`${describe(path)} must be a JSON object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      throw invalidParameter(`${fieldPath(path, key)} is not a known field (known: ${known.join(', ')})`);
    }
  }
  return record;
}

export function readRequired(record: Record<string, unknown>, parent: string, key: string): unknown {
  const value = record[key];
  if (value === undefined) throw invalidParameter(`${fieldPath(parent, key)} is required`);
  return value;
}

export interface IntegerRule {
  min: number;
  max: number;
  even?: boolean;
}

export function readInteger(value: unknown, path: string, rule: IntegerRule): number {
  const ok =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= rule.min &&
    value <= rule.max &&
    (rule.even !== true || value % 2 === 0);
  if (!ok) {
    const kind = rule.even === true ? 'an even integer' : 'an integer';
    throw invalidParameter(`${path} must be ${kind} from ${rule.min} to ${rule.max}`);
  }
  return value;
}

export function readNumber(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidParameter(`${path} must be a number from ${min} to ${max}`);
  }
  return value;
}

export function readOneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidParameter(`${path} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function readString(value: unknown, path: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalidParameter(`${path} must be a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

/** An http(s) URL, or undefined when absent or empty (ImageFlux: an empty webhook URL means none). */
export function readOptionalHttpUrl(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const rule = `${path} must be an http or https URL`;
  if (typeof value !== 'string' || value.length > 2048) throw invalidParameter(rule);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidParameter(rule);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidParameter(rule);
  return url.href;
}

export function readOptionalBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidParameter(`${path} must be true or false`);
  return value;
}

export function readOptionalString(value: unknown, path: string, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > maxLength) {
    throw invalidParameter(`${path} must be a string of at most ${maxLength} characters`);
  }
  return value;
}
