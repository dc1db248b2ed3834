/**
 * Options: validation of the node's configuration and of `msg.thingsboard` overrides.
 * Both go through `mergeOptions`, so an invalid value gets the same precise error either way.
 */
import { DEFAULT_OPTIONS, TB_MODES, TbFormatError, type TbFormatOptions } from './types';

const ENUMS = {
  mode: TB_MODES,
  timestampUnit: ['ms', 's', 'auto'],
  decimal: ['none', 'all', 'keys'],
  nested: ['json', 'flatten'],
  invalid: ['drop', 'error'],
  numericStrings: ['cast', 'keep', 'error'],
} as const;

/** Smallest packet limit accepted: room for the longest topic and a useful payload. */
export const MIN_PACKET_SIZE = 256;
/** MQTT's own maximum packet size (268,435,455 bytes remaining length + 5). */
export const MAX_PACKET_SIZE = 268435460;

/** A msg value quoted in an error: never throws (BigInt, circular), cut to 60 characters. */
function show(v: unknown): string {
  let s: string | undefined;
  try {
    s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  s ??= String(typeof v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function fail(where: string, what: string): never {
  throw new TbFormatError('INVALID_OPTION', `${where}: ${what}`);
}

function str(v: unknown, where: string, name: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(where, `${name} must be a string`);
  return v;
}

function int(v: unknown, where: string, name: string, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(where, `${name} must be an integer from ${min} to ${max}, not ${show(v)}`);
  }
  return n;
}

function bool(v: unknown, where: string, name: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return fail(where, `${name} must be true or false`);
}

/** "a, b ,c" or ["a","b"] → ["a","b","c"] */
export function parseKeyList(v: unknown, where: string): string[] {
  if (v === undefined || v === null || v === '') return [];
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : fail(where, 'decimalKeys must be a comma-separated string or an array of strings');
  return list.map((k) => {
    if (typeof k !== 'string') fail(where, 'decimalKeys must contain strings');
    return k.trim();
  }).filter((k) => k.length > 0);
}

/**
 * `base` with the fields of `raw` applied and checked. Unknown fields are ignored (Node-RED
 * configs carry id, name, wires...). `where` prefixes error messages ("config", "msg.thingsboard").
 */
export function mergeOptions(base: Readonly<TbFormatOptions>, raw: unknown, where: string): TbFormatOptions {
  const out: TbFormatOptions = { ...base, decimalKeys: [...base.decimalKeys] };
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be an object');
  const r = raw as Record<string, unknown>;
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(r, k) && r[k] !== undefined;

  for (const [name, allowed] of Object.entries(ENUMS)) {
    if (!has(name)) continue;
    const v = r[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      fail(where, `${name} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, not ${show(v)}`);
    }
    (out as unknown as Record<string, unknown>)[name] = v;
  }
  if (has('key')) out.key = str(r.key, where, 'key').trim();
  if (has('device')) out.device = str(r.device, where, 'device').trim();
  if (has('deviceType')) out.deviceType = str(r.deviceType, where, 'deviceType').trim();
  if (has('gatewayConnect')) out.gatewayConnect = bool(r.gatewayConnect, where, 'gatewayConnect');
  if (has('decimalKeys')) {
    out.decimalKeys = parseKeyList(r.decimalKeys, where);
    // a msg override that lists keys without naming the decimal mode means "these keys"
    if (!has('decimal') && out.decimalKeys.length > 0) out.decimal = 'keys';
  }
  // an emptied number field in the editor means "default"
  const hasNumber = (k: string): boolean => has(k) && r[k] !== '' && r[k] !== null;
  if (hasNumber('maxPacketSize')) out.maxPacketSize = int(r.maxPacketSize, where, 'maxPacketSize', MIN_PACKET_SIZE, MAX_PACKET_SIZE);
  if (hasNumber('propertyReserve')) out.propertyReserve = int(r.propertyReserve, where, 'propertyReserve', 0, 65535);
  if (out.decimal === 'keys' && out.decimalKeys.length === 0) {
    fail(where, 'decimal is "keys" but decimalKeys lists no key');
  }
  return out;
}

/** Options from a node configuration (defaults for anything missing). Throws TbFormatError. */
export function optionsFromConfig(config: unknown): TbFormatOptions {
  return mergeOptions(DEFAULT_OPTIONS, config, 'configuration');
}
