/**
 * Timestamps: ThingsBoard stores integer milliseconds since the epoch and silently files a value
 * in seconds under January 1970. Accepted: a number (unit ms / s / auto), a numeric string, a
 * BigInt, a `Date`, an ISO 8601 string.
 */
import { TbFormatError, type TimestampUnit } from './types';

/** "auto": a number below this is read as seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
export const AUTO_SECONDS_BELOW = 1e11;
/** "auto": from here on microseconds (1e14 ms is the year 5138), from AUTO_NANOS_FROM on nanoseconds. */
export const AUTO_MICROS_FROM = 1e14;
export const AUTO_NANOS_FROM = 1e17;
/** Largest time a JavaScript Date represents (year 275760). */
export const MAX_TIMESTAMP_MS = 8.64e15;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const NUMERIC = /^-?\d+(?:\.\d+)?$/;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Date) return 'an invalid Date';
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

function fromNumber(n: number, unit: TimestampUnit, where: string, original: unknown, warn?: (w: string) => void): number {
  if (!Number.isFinite(n)) throw new TbFormatError('INVALID_TIMESTAMP', `${where} ${describe(original)} is not a finite number`);
  let ms: number;
  if (unit === 's') ms = n * 1000;
  else if (unit === 'ms') {
    ms = n;
    if (warn && n > 0 && n < AUTO_SECONDS_BELOW) warn(`${where} ${describe(original)} is read as milliseconds (${new Date(Math.round(n)).toISOString()}); if it is in seconds, choose seconds or auto-detect`);
    if (warn && n >= AUTO_MICROS_FROM && n <= MAX_TIMESTAMP_MS) warn(`${where} ${describe(original)} is read as milliseconds (year ${new Date(Math.round(n)).getUTCFullYear()}); if it is in microseconds, choose auto-detect`);
  } else {
    const a = Math.abs(n);
    ms = a < AUTO_SECONDS_BELOW ? n * 1000 : a < AUTO_MICROS_FROM ? n : a < AUTO_NANOS_FROM ? n / 1e3 : n / 1e6;
  }
  return check(Math.round(ms), where, original);
}

function check(ms: number, where: string, original: unknown): number {
  if (ms < 0) throw new TbFormatError('INVALID_TIMESTAMP', `${where} ${describe(original)} is before 1970-01-01`);
  if (ms > MAX_TIMESTAMP_MS) throw new TbFormatError('INVALID_TIMESTAMP', `${where} ${describe(original)} is beyond the year 275760 (not milliseconds?)`);
  return ms;
}

/**
 * Integer milliseconds for a timestamp value.
 * Units: 'ms'; 's' (× 1000); 'auto': below 1e11 seconds, below 1e14 milliseconds, below 1e17
 * microseconds, above nanoseconds. Fractions are rounded to the millisecond.
 * @param where names the source in error messages, e.g. "msg.timestamp" or "payload[2].ts"
 * @param warn receives a note when a number in 'ms' mode looks like seconds or microseconds
 */
export function toMillis(v: unknown, unit: TimestampUnit, where: string, warn?: (w: string) => void): number {
  if (typeof v === 'number') return fromNumber(v, unit, where, v, warn);
  if (typeof v === 'bigint') return fromNumber(Number(v), unit, where, v, warn);
  if (v instanceof Date) {
    const t = v.getTime();
    if (Number.isNaN(t)) throw new TbFormatError('INVALID_TIMESTAMP', `${where} is an invalid Date`);
    return check(t, where, v);
  }
  if (typeof v === 'string') {
    const s = v.trim();
    if (NUMERIC.test(s)) return fromNumber(Number(s), unit, where, v, warn);
    if (ISO_8601.test(s)) {
      const t = Date.parse(s);
      if (Number.isNaN(t)) throw new TbFormatError('INVALID_TIMESTAMP', `${where} ${describe(v)} is not a valid date`);
      return check(t, where, v);
    }
    throw new TbFormatError('INVALID_TIMESTAMP', `${where} ${describe(v)} is neither a number nor an ISO 8601 date (e.g. 2024-05-01T12:00:00Z)`);
  }
  throw new TbFormatError('INVALID_TIMESTAMP', `${where} must be a number of milliseconds, a Date or an ISO 8601 string, not ${describe(v)}`);
}
