/**
 * A small model of what a ThingsBoard server stores for an MQTT publish, written independently of
 * the formatter, from ThingsBoard's public source (thingsboard/thingsboard, read via code search):
 *   - common/proto/src/main/java/org/thingsboard/server/common/adaptor/JsonConverter.java (4.x):
 *     convertToTelemetry / parseObject (`jo.has("ts") && jo.has("values")`), parseProtoValues
 *     (string → NumberUtils.isParsable cast when isTypeCastEnabled; boolean; number; null skipped;
 *     object/array → JSON_V), buildNumericKeyValueProto (BigDecimal; `stripTrailingZeros().scale()
 *     <= 0 && !isSimpleDouble` → LONG via longValueExact, overflow → STRING with cast enabled else
 *     "Big integer values are not supported!"; otherwise DOUBLE when `scale() <= 16`, else STRING /
 *     error), isSimpleDouble (contains '.' and no 'e'/'E').
 *   - common/transport/mqtt/.../session/AbstractGatewaySessionHandler.java: gateway telemetry
 *     `{"dev":[…]}` (value must be an array, then convertToTelemetryProto), gateway attributes
 *     `{"dev":{…}}` (value must be an object, then convertToAttributesProto).
 *   - Gson JsonPrimitive.getAsLong → LazilyParsedNumber.longValue (Long.parseLong, else
 *     BigDecimal.longValue: fraction truncated, low 64 bits kept) for `ts`.
 *   - commons-lang3 NumberUtils.isParsable; Java BigDecimal(String) grammar.
 *   - /work/shared/docs/thingsboard-contract.md (keys: empty or > 255 chars fail at save time;
 *     nulls inside JSON values dropped by the rule engine; packets > 65,536 bytes refused).
 * Only strict JSON is modelled (Gson is lenient; a well-behaved client never relies on that).
 */

export type TbType = 'LONG' | 'DOUBLE' | 'BOOLEAN' | 'STRING' | 'JSON';

export interface TbRow {
  /** 'server' = the server's receive time; else the 64-bit ts as ThingsBoard reads it */
  ts: bigint | 'server';
  key: string;
  type: TbType;
  /** canonical value: LONG digits, DOUBLE as JS number string, BOOLEAN, STRING text, JSON text */
  value: string;
}

export interface TbStored {
  kind: 'telemetry' | 'attributes' | 'connect';
  device?: string;
  deviceType?: string;
  rows: TbRow[];
  /** things ThingsBoard accepts but then loses (dropped nulls, keys it cannot save, duplicates) */
  problems: string[];
}

export class TbRejected extends Error {}

export interface CheckOptions {
  /** JSON_TYPE_CAST_ENABLED (default true) */
  typeCast?: boolean;
}

// ------------------------------------------------------------------ strict JSON, numbers kept as text

export type JNode =
  | { t: 'obj'; entries: [string, JNode][] }
  | { t: 'arr'; items: JNode[] }
  | { t: 'num'; text: string }
  | { t: 'str'; value: string }
  | { t: 'bool'; value: boolean }
  | { t: 'null' };

export function parseJson(text: string): JNode {
  let i = 0;
  const ws = (): void => { while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++; };
  const err = (m: string): never => { throw new TbRejected(`invalid JSON at ${i}: ${m}`); };
  const value = (): JNode => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const entries: [string, JNode][] = []; ws();
      if (text[i] === '}') { i++; return { t: 'obj', entries }; }
      for (;;) {
        ws(); if (text[i] !== '"') err('key expected');
        const k = str(); ws(); if (text[i] !== ':') err(': expected'); i++;
        entries.push([k, value()]); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { t: 'obj', entries }; }
        err(', or } expected');
      }
    }
    if (c === '[') {
      i++; const items: JNode[] = []; ws();
      if (text[i] === ']') { i++; return { t: 'arr', items }; }
      for (;;) {
        items.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return { t: 'arr', items }; }
        err(', or ] expected');
      }
    }
    if (c === '"') return { t: 'str', value: str() };
    if (text.startsWith('true', i)) { i += 4; return { t: 'bool', value: true }; }
    if (text.startsWith('false', i)) { i += 5; return { t: 'bool', value: false }; }
    if (text.startsWith('null', i)) { i += 4; return { t: 'null' }; }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) return err('value expected');
    i += m[0].length;
    return { t: 'num', text: m[0] };
  };
  const str = (): string => {
    const start = i; i++;
    while (i < text.length && text[i] !== '"') { if (text[i] === '\\') i++; i++; }
    if (i >= text.length) err('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const v = value(); ws();
  if (i !== text.length) err('trailing characters');
  return v;
}

/** Gson's compact re-serialisation (JsonElement.toString) of a JSON value: numbers keep their text. */
function gsonText(n: JNode): string {
  switch (n.t) {
    case 'obj': return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${gsonText(v)}`).join(',')}}`;
    case 'arr': return `[${n.items.map(gsonText).join(',')}]`;
    case 'num': return n.text;
    case 'str': return JSON.stringify(n.value);
    case 'bool': return String(n.value);
    case 'null': return 'null';
  }
}

function hasNull(n: JNode): boolean {
  if (n.t === 'null') return true;
  if (n.t === 'obj') return n.entries.some(([, v]) => hasNull(v));
  if (n.t === 'arr') return n.items.some(hasNull);
  return false;
}

// ------------------------------------------------------------------ Java BigDecimal, enough of it

interface BigDec { unscaled: bigint; scale: number }

/** Java Character.digit for Unicode decimal digits (runs of ten starting at the zero). */
function digitValue(ch: string): number {
  if (ch >= '0' && ch <= '9') return ch.charCodeAt(0) - 48;
  const cp = ch.codePointAt(0) as number;
  let start = cp;
  while (/^\p{Nd}$/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/** new BigDecimal(String): [sign] digits [. digits] [e|E [sign] digits]; throws on anything else. */
export function bigDecimal(s: string): BigDec {
  const m = /^([+-]?)((?:\p{Nd})*)(?:\.((?:\p{Nd})*))?(?:[eE]([+-]?\d+))?$/u.exec(s);
  if (!m || ((m[2] ?? '') + (m[3] ?? '')).length === 0) throw new TbRejected(`NumberFormatException: ${s}`);
  const digits = [...((m[2] ?? '') + (m[3] ?? ''))].map((d) => String(digitValue(d))).join('');
  let unscaled = BigInt(digits);
  if (m[1] === '-') unscaled = -unscaled;
  const scale = [...(m[3] ?? '')].length - Number(m[4] ?? '0');
  return { unscaled, scale };
}

function stripTrailingZeros(b: BigDec): BigDec {
  if (b.unscaled === 0n) return { unscaled: 0n, scale: 0 }; // Java 8+: BigDecimal.ZERO
  let { unscaled, scale } = b;
  while (unscaled % 10n === 0n) { unscaled /= 10n; scale--; }
  return { unscaled, scale };
}

/** exact integer value of an integral BigDecimal */
function integralValue(b: BigDec): bigint {
  return b.scale <= 0 ? b.unscaled * 10n ** BigInt(-b.scale) : b.unscaled / 10n ** BigInt(b.scale);
}

function toPlainString(b: BigDec): string {
  if (b.scale <= 0) return (b.unscaled * 10n ** BigInt(-b.scale)).toString();
  const neg = b.unscaled < 0n;
  const digits = (neg ? -b.unscaled : b.unscaled).toString().padStart(b.scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -b.scale)}.${digits.slice(-b.scale)}`;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** commons-lang3 NumberUtils.isParsable */
export function isParsable(s: string): boolean {
  if (s.length === 0 || s.endsWith('.')) return false;
  let body = s;
  if (s[0] === '-') { if (s.length === 1) return false; body = s.slice(1); }
  let points = 0;
  for (const ch of body) {
    if (ch === '.') { if (++points > 1) return false; } else if (!/^\p{Nd}$/u.test(ch)) return false;
  }
  return true;
}

/** buildNumericKeyValueProto */
function numeric(text: string, key: string, typeCast: boolean): TbRow {
  const bd = bigDecimal(text);
  const isSimpleDouble = text.includes('.') && !text.includes('e') && !text.includes('E');
  if (stripTrailingZeros(bd).scale <= 0 && !isSimpleDouble) {
    const v = integralValue(bd);
    if (v >= INT64_MIN && v <= INT64_MAX) return { ts: 'server', key, type: 'LONG', value: v.toString() };
    if (typeCast) return { ts: 'server', key, type: 'STRING', value: toPlainString(bd) };
    throw new TbRejected('Big integer values are not supported!');
  }
  if (bd.scale <= 16) return { ts: 'server', key, type: 'DOUBLE', value: String(Number(toPlainString(bd))) };
  if (typeCast) return { ts: 'server', key, type: 'STRING', value: toPlainString(bd) };
  throw new TbRejected('Big integer values are not supported!');
}

/** parseProtoValues */
function values(obj: JNode, ts: bigint | 'server', typeCast: boolean, problems: string[]): TbRow[] {
  if (obj.t !== 'obj') throw new TbRejected('values is not an object');
  const rows = new Map<string, TbRow>(); // JsonObject: a repeated key replaces the earlier one
  for (const [key, v] of obj.entries) {
    if (rows.has(key)) problems.push(`duplicate key "${key}": only the last value is kept`);
    let row: TbRow | undefined;
    switch (v.t) {
      case 'str':
        if (typeCast && isParsable(v.value)) {
          try { row = numeric(v.value, key, typeCast); } catch { row = { ts, key, type: 'STRING', value: v.value }; }
        } else {
          row = { ts, key, type: 'STRING', value: v.value };
        }
        break;
      case 'bool': row = { ts, key, type: 'BOOLEAN', value: String(v.value) }; break;
      case 'num': row = numeric(v.text, key, typeCast); break;
      case 'null': problems.push(`"${key}" is null: dropped`); break;
      case 'obj': case 'arr':
        if (hasNull(v)) problems.push(`"${key}" holds null inside its JSON value: dropped by the rule engine`);
        row = { ts, key, type: 'JSON', value: gsonText(v) };
        break;
    }
    if (row) {
      row.ts = ts;
      if (key.length === 0) problems.push('empty key: fails at save time');
      if ([...key].length > 255) problems.push(`key of ${[...key].length} characters: fails at save time`);
      rows.set(key, row);
    }
  }
  return [...rows.values()];
}

/** JsonPrimitive.getAsLong as used for "ts" */
function tsAsLong(n: JNode): bigint {
  if (n.t === 'num') {
    if (/^-?\d+$/.test(n.text)) {
      const v = BigInt(n.text);
      if (v >= INT64_MIN && v <= INT64_MAX) return v;
    }
    const bd = bigDecimal(n.text);
    return BigInt.asIntN(64, integralValue(bd)); // BigDecimal.longValue: truncate, keep low 64 bits
  }
  if (n.t === 'str' && /^[+-]?\d+$/.test(n.value)) {
    const v = BigInt(n.value);
    if (v >= INT64_MIN && v <= INT64_MAX) return v;
  }
  throw new TbRejected(`ts is not a long: ${gsonText(n)}`);
}

/** convertToTelemetry */
function telemetry(root: JNode, typeCast: boolean, problems: string[]): TbRow[] {
  const objects = root.t === 'obj' ? [root] : root.t === 'arr' ? root.items : null;
  if (!objects) throw new TbRejected(`Can't parse value: ${gsonText(root)}`);
  const rows: TbRow[] = [];
  for (const o of objects) {
    if (o.t !== 'obj') throw new TbRejected(`Can't parse value: ${gsonText(o)}`);
    const ts = o.entries.find(([k]) => k === 'ts');
    const vals = o.entries.find(([k]) => k === 'values');
    if (ts && vals) {
      const extra = o.entries.filter(([k]) => k !== 'ts' && k !== 'values');
      if (extra.length) problems.push(`keys beside ts/values ignored: ${extra.map(([k]) => k).join(', ')}`);
      rows.push(...values(vals[1], tsAsLong(ts[1]), typeCast, problems));
    } else {
      rows.push(...values(o, 'server', typeCast, problems));
    }
  }
  return rows;
}

export const TOPICS = {
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  gatewayTelemetry: 'v1/gateway/telemetry',
  gatewayAttributes: 'v1/gateway/attributes',
  gatewayConnect: 'v1/gateway/connect',
};

/** What ThingsBoard stores for `payload` published on `topic`; throws TbRejected when it refuses it. */
export function tbStore(topic: string, payload: string, opts: CheckOptions = {}): TbStored {
  const typeCast = opts.typeCast ?? true;
  const problems: string[] = [];
  const root = parseJson(payload);
  switch (topic) {
    case TOPICS.telemetry:
      return { kind: 'telemetry', rows: telemetry(root, typeCast, problems), problems };
    case TOPICS.attributes:
      if (root.t !== 'obj') throw new TbRejected(`Can't parse value: ${gsonText(root)}`);
      return { kind: 'attributes', rows: values(root, 'server', typeCast, problems), problems };
    case TOPICS.gatewayTelemetry:
    case TOPICS.gatewayAttributes: {
      if (root.t !== 'obj') throw new TbRejected(`Can't parse value: ${gsonText(root)}`);
      if (root.entries.length !== 1) throw new TbRejected('this checker expects one device per publish');
      const [device, v] = root.entries[0] as [string, JNode];
      if (topic === TOPICS.gatewayTelemetry) {
        if (v.t !== 'arr') throw new TbRejected(`device ${device}: telemetry is not an array`);
        return { kind: 'telemetry', device, rows: telemetry(v, typeCast, problems), problems };
      }
      if (v.t !== 'obj') throw new TbRejected(`device ${device}: attributes are not an object`);
      return { kind: 'attributes', device, rows: values(v, 'server', typeCast, problems), problems };
    }
    case TOPICS.gatewayConnect: {
      if (root.t !== 'obj') throw new TbRejected('connect is not an object');
      const d = root.entries.find(([k]) => k === 'device');
      const t = root.entries.find(([k]) => k === 'type');
      if (!d || d[1].t !== 'str' || !d[1].value) throw new TbRejected('connect without device name');
      const stored: TbStored = { kind: 'connect', device: d[1].value, rows: [], problems };
      stored.deviceType = t && t[1].t === 'str' ? t[1].value : 'default';
      return stored;
    }
    default:
      throw new TbRejected(`not a ThingsBoard publish topic: ${topic}`);
  }
}

/** Whole MQTT PUBLISH packet size (QoS 1 packet id and MQTT 5 property length counted). */
export function packetSize(topic: string, payload: string, propertyBytes = 0): number {
  const vbi = (n: number): number => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4);
  const rl = 2 + Buffer.byteLength(topic) + 2 + vbi(propertyBytes) + propertyBytes + Buffer.byteLength(payload);
  return 1 + vbi(rl) + rl;
}
