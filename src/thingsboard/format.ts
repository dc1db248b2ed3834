/**
 * The formatter: a message in, ThingsBoard publishes out.
 *
 * Steps: (1) read the payload into entries (timestamp, key, value); (2) turn every value into its
 * exact JSON text (numbers by ./numbers, nested objects as JSON or flattened); (3) check keys and
 * duplicates; (4) pack the entries into as few publishes as the packet size allows, each one
 * valid on its own, grouped by timestamp, no entry lost or repeated.
 */
import { formatBigInt, formatNumber, isTbNumericString } from './numbers';
import { mqtt5PropertyBytes, payloadBudget } from './mqtt-size';
import { toMillis } from './timestamp';
import {
  TB_MAX_DEVICE_NAME_LENGTH, TB_MAX_KEY_LENGTH, TB_TOPICS, TbFormatError,
  type TbFormatContext, type TbFormatOptions, type TbFormatResult, type TbFormatSuccess, type TbInput, type TbPublish,
} from './types';

/** One value on its way out. `ts` null: no timestamp (the server's receive time). */
interface Entry {
  ts: number | null;
  key: string;
  /** exact JSON text of the value */
  text: string;
  /** UTF-8 bytes of `"key":text` */
  bytes: number;
}

/** A raw value before conversion. */
interface RawEntry {
  ts: number | null;
  key: string;
  value: unknown;
  where: string;
}

interface Work {
  opts: TbFormatOptions;
  warnings: string[];
  dropped: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date)
  && !(v instanceof Map) && !(v instanceof Set) && !ArrayBuffer.isView(v);

const isInvalid = (v: unknown): boolean =>
  v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));

function describeInvalid(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  return String(v); // NaN, Infinity, -Infinity
}

function typeName(v: unknown): string {
  if (Buffer.isBuffer(v)) return 'a Buffer';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'a Map';
  if (v instanceof Set) return 'a Set';
  if (ArrayBuffer.isView(v)) return 'a typed array';
  return `a ${typeof v}`;
}

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function checkKey(key: string, where: string): void {
  if (key.length === 0) {
    throw new TbFormatError('INVALID_KEY', `${where}: empty key (ThingsBoard would acknowledge it and then fail to save it)`);
  }
  const n = codePoints(key);
  if (n > TB_MAX_KEY_LENGTH) {
    throw new TbFormatError('INVALID_KEY', `${where}: key "${key.slice(0, 40)}…" has ${n} characters; ThingsBoard saves at most ${TB_MAX_KEY_LENGTH}`);
  }
}

/** Invalid value at `where`: dropped with a warning, or an error (option `invalid`). */
function invalidValue(w: Work, v: unknown, where: string): void {
  if (w.opts.invalid === 'error') {
    throw new TbFormatError('INVALID_VALUE', `${where} is ${describeInvalid(v)}: ThingsBoard cannot store it`);
  }
  w.dropped++;
  w.warnings.push(`${where} is ${describeInvalid(v)}: not sent`);
}

/** JSON text for a value nested inside a JSON value (ThingsBoard stores the text). */
function nestedJson(w: Work, v: unknown, where: string, stack: unknown[]): string | undefined {
  if (isInvalid(v)) {
    invalidValue(w, v, where);
    return undefined;
  }
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return JSON.stringify(v);
    case 'number': return JSON.stringify(v); // a JSON value keeps its text: shortest round-trip form
    case 'bigint': return v.toString(); // exact digits: a JSON value keeps its text
    case 'object': break;
    default:
      throw new TbFormatError('INVALID_VALUE', `${where} is ${typeName(v)}, which has no JSON form`);
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new TbFormatError('INVALID_VALUE', `${where} is an invalid Date`);
    return JSON.stringify(v.toISOString());
  }
  if (stack.includes(v)) throw new TbFormatError('INVALID_VALUE', `${where} refers to itself (circular structure)`);
  if (Array.isArray(v)) {
    stack.push(v);
    const parts: string[] = [];
    v.forEach((e, i) => {
      const t = nestedJson(w, e, `${where}[${i}]`, stack);
      if (t !== undefined) parts.push(t);
    });
    stack.pop();
    return `[${parts.join(',')}]`;
  }
  if (!isPlainObject(v)) throw new TbFormatError('INVALID_VALUE', `${where} is ${typeName(v)}; convert it to plain JSON first`);
  stack.push(v);
  const parts: string[] = [];
  for (const [k, e] of Object.entries(v)) {
    const t = nestedJson(w, e, `${where}.${k}`, stack);
    if (t !== undefined) parts.push(`${JSON.stringify(k)}:${t}`);
  }
  stack.pop();
  return `{${parts.join(',')}}`;
}

function wantsDecimal(opts: TbFormatOptions, key: string): boolean {
  return opts.decimal === 'all' || (opts.decimal === 'keys' && opts.decimalKeys.includes(key));
}

/** Converts one raw entry into entries (several when flattening). */
function convert(w: Work, raw: RawEntry, out: Entry[], stack: unknown[] = []): void {
  const { key, value: v, where, ts } = raw;
  const push = (text: string): void => {
    checkKey(key, where);
    out.push({ ts, key, text, bytes: Buffer.byteLength(JSON.stringify(key), 'utf8') + 1 + Buffer.byteLength(text, 'utf8') });
  };
  if (isInvalid(v)) {
    invalidValue(w, v, where);
    return;
  }
  switch (typeof v) {
    case 'boolean': push(v ? 'true' : 'false'); return;
    case 'number': {
      const r = formatNumber(v, wantsDecimal(w.opts, key));
      if (r.warning) w.warnings.push(`${where}: ${r.warning}`);
      push(r.text);
      return;
    }
    case 'bigint': {
      const r = formatBigInt(v, wantsDecimal(w.opts, key));
      if (r.warning) w.warnings.push(`${where}: ${r.warning}`);
      push(r.text);
      return;
    }
    case 'string': {
      if (isTbNumericString(v)) {
        if (w.opts.numericStrings === 'error') {
          throw new TbFormatError('NUMERIC_STRING', `${where} is the string ${JSON.stringify(v)}, which ThingsBoard stores as a number; send a number, or choose "let ThingsBoard cast"`);
        }
      }
      push(JSON.stringify(v));
      return;
    }
    case 'object': break;
    default:
      throw new TbFormatError('INVALID_VALUE', `${where} is ${typeName(v)}, which ThingsBoard cannot store`);
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new TbFormatError('INVALID_VALUE', `${where} is an invalid Date`);
    push(JSON.stringify(v.toISOString()));
    return;
  }
  if (w.opts.nested === 'flatten' && isPlainObject(v) && Object.keys(v).length > 0) {
    if (stack.includes(v)) throw new TbFormatError('INVALID_VALUE', `${where} refers to itself (circular structure)`);
    stack.push(v);
    for (const [k, e] of Object.entries(v)) {
      convert(w, { ts, key: `${key}.${k}`, value: e, where: `${where}.${k}` }, out, stack);
    }
    stack.pop();
    return;
  }
  if (!Array.isArray(v) && !isPlainObject(v)) {
    throw new TbFormatError('INVALID_VALUE', `${where} is ${typeName(v)}; convert it to plain JSON first`);
  }
  const text = nestedJson(w, v, where, stack);
  if (text !== undefined) push(text);
}

function lastTopicLevel(topic: unknown): string {
  if (typeof topic !== 'string') return '';
  const parts = topic.split('/');
  return parts[parts.length - 1] ?? '';
}

/** Key of a single value: options (editor or msg.thingsboard) → msg.key → msg.topic's last level. */
function singleKey(opts: TbFormatOptions, input: TbInput): string {
  if (opts.key) return opts.key;
  if (input.key !== undefined && input.key !== null && input.key !== '') {
    if (typeof input.key !== 'string') throw new TbFormatError('NO_KEY', 'msg.key must be a string');
    return input.key;
  }
  const fromTopic = lastTopicLevel(input.topic);
  if (fromTopic) return fromTopic;
  throw new TbFormatError('NO_KEY', 'a single value needs a key: set one in the node, or msg.key, or a msg.topic whose last level names it');
}

const isScalar = (v: unknown): boolean =>
  typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint' || v instanceof Date;

/** Reads the payload into raw entries. */
function readPayload(w: Work, input: TbInput): RawEntry[] {
  const { opts } = w;
  const p = input.payload;
  const attributes = opts.mode === 'attributes' || opts.mode === 'gateway-attributes';
  // attributes have no timestamp: unit hints would only confuse
  const tsWarn = attributes ? undefined : (m: string): void => { w.warnings.push(m); };
  let ignoredTsWarned = false;
  const ignoredTs = (where: string): void => {
    if (attributes && !ignoredTsWarned) {
      ignoredTsWarned = true;
      w.warnings.push(`${where}.ts ignored: attributes have no timestamp`);
    }
  };
  const defaultTs = input.timestamp === undefined || input.timestamp === null
    ? null : toMillis(input.timestamp, opts.timestampUnit, 'msg.timestamp', tsWarn);
  const out: RawEntry[] = [];

  const readObject = (o: Record<string, unknown>, where: string): void => {
    const keys = Object.keys(o);
    let ts = defaultTs;
    let values: Record<string, unknown> = o;
    let prefix = where;
    if (keys.includes('ts') && keys.includes('values')) {
      const extra = keys.filter((k) => k !== 'ts' && k !== 'values');
      if (extra.length) {
        throw new TbFormatError('INVALID_INPUT', `${where} has "ts" and "values" and also ${extra.map((k) => `"${k}"`).join(', ')}: ThingsBoard would ignore those; move them into "values"`);
      }
      if (!isPlainObject(o.values)) {
        throw new TbFormatError('INVALID_INPUT', `${where}.values must be an object of key → value, not ${typeName(o.values)}`);
      }
      ts = toMillis(o.ts, opts.timestampUnit, `${where}.ts`, tsWarn);
      ignoredTs(where);
      values = o.values;
      prefix = `${where}.values`;
    } else if (keys.includes('ts')) {
      ts = toMillis(o.ts, opts.timestampUnit, `${where}.ts`, tsWarn);
      ignoredTs(where);
      values = { ...o };
      delete values.ts;
    }
    const vk = Object.keys(values);
    if (vk.length === 0) throw new TbFormatError('INVALID_INPUT', `${prefix} has no values`);
    for (const k of vk) out.push({ ts, key: k, value: values[k], where: `${prefix}.${k}` });
  };

  const readOne = (v: unknown, where: string, inArray: boolean): void => {
    if (isScalar(v)) {
      out.push({ ts: defaultTs, key: singleKey(opts, input), value: v, where });
    } else if (isPlainObject(v)) {
      readObject(v, where);
    } else if (Array.isArray(v) && !inArray) {
      if (v.length === 0) throw new TbFormatError('INVALID_INPUT', `${where} is an empty array`);
      v.forEach((e, i) => readOne(e, `${where}[${i}]`, true));
    } else if (isInvalid(v)) {
      if (opts.invalid === 'error') throw new TbFormatError('INVALID_VALUE', `${where} is ${describeInvalid(v)}: nothing ThingsBoard can store`);
      w.dropped++;
      w.warnings.push(`${where} is ${describeInvalid(v)}: not sent`);
    } else {
      throw new TbFormatError('INVALID_INPUT', `${where} is ${typeName(v)}: expected a number, string, boolean, an object of key → value, {ts, values}, or an array of these`);
    }
  };

  if (p === undefined || p === null) {
    throw new TbFormatError('INVALID_INPUT', `msg.payload is ${p === null ? 'null' : 'missing'}: nothing to send`);
  }
  if (typeof p === 'string' && /^\s*[[{]/.test(p)) {
    let parsed: unknown;
    try { parsed = JSON.parse(p); } catch { parsed = undefined; }
    if (parsed !== null && typeof parsed === 'object') {
      w.warnings.push('msg.payload is a string holding JSON: it is sent as one string value; put a json node before this node to send its keys');
    }
  }
  readOne(p, 'msg.payload', false);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Packing entries into publishes

interface Obj { ts: number | null; entries: Entry[]; bytes: number }
interface Out { objs: Obj[]; bytes: number }

/** Byte sizes of the JSON around the entries, per output kind. */
interface Shape {
  topic: string;
  kind: 'telemetry' | 'attributes';
  /** device telemetry: one object, or an array of them; gateway: {"dev":[…]}; attributes: one object */
  envelope: 'device' | 'gateway-array' | 'single-object' | 'gateway-object';
  /** `{"dev":` prefix length for gateway shapes */
  devicePrefix: string;
}

const TS_HEAD = (ts: number): string => `{"ts":${ts},"values":{`;

function objOverhead(ts: number | null): number {
  return ts === null ? 2 : Buffer.byteLength(TS_HEAD(ts)) + 2; // "{" "}"  or  '{"ts":N,"values":{' + '}}'
}

function envelopeBytes(shape: Shape, nObjs: number): number {
  switch (shape.envelope) {
    case 'device': return nObjs <= 1 ? 0 : 2 + (nObjs - 1);
    case 'single-object': return 0;
    case 'gateway-array': return Buffer.byteLength(shape.devicePrefix) + 1 + 1 + 1 + Math.max(0, nObjs - 1); // prefix [ ] } + commas
    case 'gateway-object': return Buffer.byteLength(shape.devicePrefix) + 1; // prefix … }
  }
}

function renderObj(o: Obj): string {
  const inner = o.entries.map((e) => `${JSON.stringify(e.key)}:${e.text}`).join(',');
  return o.ts === null ? `{${inner}}` : `${TS_HEAD(o.ts)}${inner}}}`;
}

function render(shape: Shape, out: Out): string {
  const objs = out.objs.map(renderObj);
  switch (shape.envelope) {
    case 'device': return objs.length === 1 ? objs[0] as string : `[${objs.join(',')}]`;
    case 'single-object': return objs[0] as string;
    case 'gateway-array': return `${shape.devicePrefix}[${objs.join(',')}]}`;
    case 'gateway-object': return `${shape.devicePrefix}${objs[0] as string}}`;
  }
}

/**
 * Greedy packing in input order. An entry joins the last object of the current output when it has
 * the same timestamp (and, for an object without timestamp, would not make ThingsBoard read it as a
 * `{ts, values}` group); otherwise it opens a new object (not for the one-object shapes). When the
 * output would pass `budget`, a new output starts. One entry that cannot fit alone is an error.
 */
function pack(shape: Shape, entries: Entry[], budget: number): Out[] {
  const outs: Out[] = [];
  const oneObject = shape.envelope === 'single-object' || shape.envelope === 'gateway-object';
  const fresh = (e: Entry): Out => {
    const o: Obj = { ts: oneObject ? null : e.ts, entries: [e], bytes: objOverhead(oneObject ? null : e.ts) + e.bytes };
    const out: Out = { objs: [o], bytes: envelopeBytes(shape, 1) + o.bytes };
    if (out.bytes > budget) {
      throw new TbFormatError('TOO_LARGE', `the value of "${e.key}" alone needs ${out.bytes} bytes of payload on ${shape.topic}; the limit is ${budget} bytes (packet limit minus MQTT header, topic and properties)`);
    }
    return out;
  };
  for (const e of entries) {
    const cur = outs[outs.length - 1];
    if (!cur) { outs.push(fresh(e)); continue; }
    const last = cur.objs[cur.objs.length - 1] as Obj;
    const sameObject = oneObject || (last.ts === e.ts && !(e.ts === null && collides(last, e.key)));
    let delta: number;
    if (sameObject) {
      delta = 1 + e.bytes;
    } else {
      delta = objOverhead(e.ts) + e.bytes + envelopeBytes(shape, cur.objs.length + 1) - envelopeBytes(shape, cur.objs.length);
    }
    if (cur.bytes + delta > budget) { outs.push(fresh(e)); continue; }
    cur.bytes += delta;
    if (sameObject) {
      last.entries.push(e);
      last.bytes += 1 + e.bytes;
    } else {
      cur.objs.push({ ts: e.ts, entries: [e], bytes: objOverhead(e.ts) + e.bytes });
    }
  }
  return outs;
}

/** An object without timestamp holding both "ts" and "values" would be read as a timestamped group. */
function collides(o: Obj, key: string): boolean {
  if (key !== 'ts' && key !== 'values') return false;
  const other = key === 'ts' ? 'values' : 'ts';
  return o.entries.some((x) => x.key === other);
}

// ---------------------------------------------------------------------------------------------

function resolveDevice(opts: TbFormatOptions, input: TbInput): string {
  let device = opts.device;
  if (!device) {
    if (input.device !== undefined && input.device !== null && typeof input.device !== 'string') {
      throw new TbFormatError('NO_DEVICE', 'msg.device must be a string');
    }
    device = typeof input.device === 'string' ? input.device.trim() : '';
  }
  if (!device) throw new TbFormatError('NO_DEVICE', 'gateway mode needs a device name: set one in the node, or msg.device');
  if (codePoints(device) > TB_MAX_DEVICE_NAME_LENGTH) {
    throw new TbFormatError('NO_DEVICE', `device name has ${codePoints(device)} characters; ThingsBoard allows at most ${TB_MAX_DEVICE_NAME_LENGTH}`);
  }
  return device;
}

function resolveDeviceType(opts: TbFormatOptions, input: TbInput): string {
  if (opts.deviceType) return opts.deviceType;
  if (typeof input.deviceType === 'string' && input.deviceType.trim()) return input.deviceType.trim();
  return 'default';
}

/**
 * Formats one message. Never throws for bad input: returns `{ ok: false, error }` with a precise
 * message instead. (Options must come from `mergeOptions`/`optionsFromConfig`.)
 */
export function formatTelemetry(input: TbInput, opts: TbFormatOptions, ctx: TbFormatContext = {}): TbFormatResult {
  const w: Work = { opts, warnings: [], dropped: 0 };
  try {
    const gateway = opts.mode === 'gateway-telemetry' || opts.mode === 'gateway-attributes';
    const attributes = opts.mode === 'attributes' || opts.mode === 'gateway-attributes';
    const device = gateway ? resolveDevice(opts, input) : undefined;

    const raw = readPayload(w, input);
    const entries: Entry[] = [];
    for (const r of raw) convert(w, r, entries);

    if (entries.length === 0) {
      throw new TbFormatError('NOTHING_TO_SEND', `nothing left to send: ${w.dropped} value(s) dropped`);
    }

    // Attributes have no timestamp; gateway telemetry always carries one (now when absent).
    const now = ctx.now ?? Date.now;
    let stamp: number | undefined;
    for (const e of entries) {
      if (attributes) e.ts = null;
      else if (gateway && e.ts === null) e.ts = stamp ??= Math.round(now());
    }

    // One value per key and timestamp: ThingsBoard would keep only one of them.
    const seen = new Map<number | null, Set<string>>();
    const byTs = new Map<number | null, Entry[]>();
    for (const e of entries) {
      let s = seen.get(e.ts);
      if (!s) { s = new Set(); seen.set(e.ts, s); byTs.set(e.ts, []); }
      (byTs.get(e.ts) as Entry[]).push(e);
      if (s.has(e.key)) {
        throw new TbFormatError('DUPLICATE_KEY', attributes
          ? `key "${e.key}" is given more than once; an attribute keeps one value`
          : `key "${e.key}" is given more than once for the same timestamp${e.ts === null ? ' (none: the server time)' : ` ${e.ts}`}; ThingsBoard would keep only one`);
      }
      s.add(e.key);
    }

    // Same timestamp together, groups in order of first appearance.
    const sorted = attributes ? entries : [...byTs.values()].flat();

    const topic = opts.mode === 'telemetry' ? TB_TOPICS.telemetry
      : opts.mode === 'attributes' ? TB_TOPICS.attributes
        : opts.mode === 'gateway-telemetry' ? TB_TOPICS.gatewayTelemetry : TB_TOPICS.gatewayAttributes;
    const shape: Shape = {
      topic,
      kind: attributes ? 'attributes' : 'telemetry',
      envelope: opts.mode === 'telemetry' ? 'device' : opts.mode === 'attributes' ? 'single-object'
        : opts.mode === 'gateway-telemetry' ? 'gateway-array' : 'gateway-object',
      devicePrefix: device === undefined ? '' : `{${JSON.stringify(device)}:`,
    };
    const propertyBytes = mqtt5PropertyBytes(input.mqttProperties) + opts.propertyReserve;
    const budget = payloadBudget(topic, opts.maxPacketSize, propertyBytes);
    const outs = pack(shape, sorted, budget);

    const publishes: TbPublish[] = [];
    if (gateway && device !== undefined && opts.gatewayConnect && !(ctx.knownDevices?.has(device))) {
      const payload = JSON.stringify({ device, type: resolveDeviceType(opts, input) });
      const cBudget = payloadBudget(TB_TOPICS.gatewayConnect, opts.maxPacketSize, propertyBytes);
      if (Buffer.byteLength(payload) > cBudget) throw new TbFormatError('TOO_LARGE', `the connect message for "${device}" does not fit in ${cBudget} bytes`);
      publishes.push({ topic: TB_TOPICS.gatewayConnect, payload, kind: 'connect', device, values: 0 });
    }
    for (const o of outs) {
      const payload = render(shape, o);
      const n = Buffer.byteLength(payload);
      if (n !== o.bytes || n > budget) {
        // the arithmetic above and the text must agree; anything else is a bug worth a loud error
        throw new Error(`thingsboard formatter: size mismatch (${n} bytes rendered, ${o.bytes} counted, budget ${budget})`);
      }
      const values = o.objs.reduce((a, x) => a + x.entries.length, 0);
      const p: TbPublish = { topic, payload, kind: shape.kind, values };
      if (device !== undefined) p.device = device;
      publishes.push(p);
    }
    const result: TbFormatSuccess = { ok: true, publishes, warnings: w.warnings, values: entries.length, dropped: w.dropped };
    if (device !== undefined) result.device = device;
    return result;
  } catch (err) {
    if (err instanceof TbFormatError) return { ok: false, error: err, warnings: w.warnings };
    throw err;
  }
}
