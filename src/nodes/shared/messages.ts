/**
 * Conversions between Node-RED messages and MQTT messages: payload encoding for publishing,
 * payload decoding for the in node's output formats, user properties (normalising and merging).
 */
import type { PublishProperties, UserProperties } from '../../broker/types';

export type UserPropertyEntry = { key: string; value: string };

/** Error for a message the node cannot publish; its text goes to node.error (Catch nodes see it). */
export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageError';
  }
}

/**
 * A value as error messages quote it: JSON-like, never throwing (BigInt, circular objects, symbols)
 * and cut to `max` characters, so that a huge msg value does not end up whole in the debug sidebar.
 */
export function describeValue(v: unknown, max = 80): string {
  let s: string | undefined;
  if (typeof v === 'bigint') s = `${v}n`;
  else if (typeof v === 'symbol' || typeof v === 'function') s = String(typeof v);
  else if (Buffer.isBuffer(v)) s = `Buffer(${v.length})`;
  else {
    try {
      s = JSON.stringify(v);
    } catch {
      s = Object.prototype.toString.call(v); // circular, or a BigInt inside
    }
  }
  s ??= String(v);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/**
 * msg.payload → bytes.
 * Buffer as is; string as UTF-8; number / boolean / bigint → their string form; object or array →
 * JSON; null → empty payload (e.g. to clear a retained message); undefined → error (missing payload).
 */
export function encodePayload(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload === null) return Buffer.alloc(0);
  if (payload === undefined) {
    throw new MessageError('msg.payload is undefined: set a payload (use null or "" to publish an empty message)');
  }
  if (typeof payload === 'number' || typeof payload === 'boolean' || typeof payload === 'bigint') {
    return Buffer.from(String(payload), 'utf8');
  }
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  if (typeof payload === 'object') {
    try {
      return Buffer.from(JSON.stringify(payload), 'utf8');
    } catch (e) {
      throw new MessageError(`msg.payload cannot be converted to JSON: ${(e as Error).message}`);
    }
  }
  throw new MessageError(`msg.payload of type ${typeof payload} cannot be published`);
}

export type OutputFormat = 'auto' | 'utf8' | 'buffer' | 'json' | 'base64';

function isJsonContentType(ct: string | undefined): boolean {
  return !!ct && /^application\/(.+\+)?json\b/i.test(ct.trim());
}
function isTextContentType(ct: string | undefined): boolean {
  return !!ct && (/^text\//i.test(ct.trim()) || /\b(xml|javascript|csv|yaml)\b/i.test(ct));
}

export function validUtf8(buf: Buffer): boolean {
  // Buffer.toString replaces invalid sequences with U+FFFD: compare the round trip.
  const s = buf.toString('utf8');
  return Buffer.byteLength(s) === buf.length && Buffer.from(s, 'utf8').equals(buf);
}

/**
 * Bytes → msg.payload for the in / request nodes.
 * - auto: content type application/json (or +json) → parsed JSON; text/* or payload format
 *   indicator 1 → string; another content type → Buffer; no content type → parsed JSON when the
 *   text is a JSON object or array, else a string when the bytes are valid UTF-8, else a Buffer.
 * - utf8: string; buffer: Buffer; base64: base64 string; json: parsed JSON (error when invalid).
 * Throws MessageError (json, or auto with a JSON content type) when the payload is not valid JSON.
 */
export function decodePayload(
  buf: Buffer,
  format: OutputFormat,
  props: { contentType?: string; payloadFormatIndicator?: boolean } = {},
): unknown {
  switch (format) {
    case 'buffer':
      return buf;
    case 'utf8':
      return buf.toString('utf8');
    case 'base64':
      return buf.toString('base64');
    case 'json':
      return parseJson(buf);
    case 'auto':
    default: {
      const ct = props.contentType;
      if (isJsonContentType(ct)) return parseJson(buf);
      if (isTextContentType(ct) || props.payloadFormatIndicator) return buf.toString('utf8');
      if (ct) return buf;
      if (!validUtf8(buf)) return buf;
      const s = buf.toString('utf8');
      const t = s.trimStart();
      if (t.startsWith('{') || t.startsWith('[')) {
        try {
          return JSON.parse(s);
        } catch {
          return s;
        }
      }
      return s;
    }
  }
}

function parseJson(buf: Buffer): unknown {
  const s = buf.toString('utf8');
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new MessageError(`payload is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * msg.userProperties (object; values string, number, boolean or arrays of them) → MQTT user
 * properties. Throws MessageError on anything else.
 */
export function normalizeUserProperties(v: unknown, what = 'msg.userProperties'): UserProperties {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) {
    throw new MessageError(`${what} must be an object of key: value (got ${Array.isArray(v) ? 'array' : typeof v})`);
  }
  const out: UserProperties = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(val)) {
      out[k] = val.map((x, i) => scalar(x, `${what}.${k}[${i}]`));
    } else {
      out[k] = scalar(val, `${what}.${k}`);
    }
  }
  return out;
}

function scalar(x: unknown, what: string): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  throw new MessageError(`${what} must be a string, number or boolean (got ${x === null ? 'null' : typeof x})`);
}

/** The node's key/value list → user properties; a key listed several times becomes an array. */
export function entriesToUserProperties(entries: UserPropertyEntry[] | undefined): UserProperties {
  const out: UserProperties = {};
  for (const e of entries ?? []) {
    if (!e || typeof e.key !== 'string' || e.key === '') continue;
    const value = String(e.value ?? '');
    const prev = out[e.key];
    if (prev === undefined) out[e.key] = value;
    else out[e.key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/**
 * Merge the node's user properties with msg.userProperties: every key of both is sent; when a key is
 * in both, the msg's value(s) replace the node's for that key ("msg wins").
 */
export function mergeUserProperties(nodeProps: UserProperties, msgProps: UserProperties): UserProperties {
  return { ...nodeProps, ...msgProps };
}

/** Copy of user properties in the output form: an object, repeated keys as arrays. */
export function outputUserProperties(p: UserProperties | undefined): Record<string, string | string[]> | undefined {
  if (!p || Object.keys(p).length === 0) return undefined;
  const o: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(p)) o[k] = Array.isArray(v) ? [...v] : v;
  return o;
}

const MAX_FIELD = 65535;

/**
 * MQTT encodes strings and binary properties with a 2-byte length: a longer content type, response
 * topic, correlation data or user property key/value cannot be sent (mqtt.js would throw half-way and
 * leave its QoS 1/2 state stuck). Returns the problem, or null.
 */
export function propertiesError(p: PublishProperties | undefined): string | null {
  if (!p) return null;
  const long = (s: string | undefined): boolean => s !== undefined && s.length > MAX_FIELD / 3 && Buffer.byteLength(s) > MAX_FIELD;
  if (long(p.contentType)) return `content type is longer than ${MAX_FIELD} bytes`;
  if (long(p.responseTopic)) return `response topic is longer than ${MAX_FIELD} bytes`;
  if (p.correlationData && p.correlationData.length > MAX_FIELD) {
    return `correlation data is ${p.correlationData.length} bytes, more than the ${MAX_FIELD} MQTT allows`;
  }
  for (const [k, v] of Object.entries(p.userProperties ?? {})) {
    if (long(k)) return `user property key ${describeValue(k)} is longer than ${MAX_FIELD} bytes`;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (long(x)) return `user property ${describeValue(k)}: value is longer than ${MAX_FIELD} bytes`;
    }
  }
  return null;
}

/**
 * A copy of MQTT 5 properties that shares no Buffer, array or object with `p`: what the embedded
 * broker keeps (retained, queued, other subscribers) must not change when a flow changes its msg.
 */
export function detachProperties<P extends PublishProperties>(p: P | undefined): P {
  if (!p) return {} as P;
  const out = { ...p };
  if (p.correlationData) out.correlationData = Buffer.from(p.correlationData);
  if (p.userProperties) {
    out.userProperties = Object.fromEntries(Object.entries(p.userProperties).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]));
  }
  if (Array.isArray(p.subscriptionIdentifier)) out.subscriptionIdentifier = [...p.subscriptionIdentifier];
  return out;
}

/** msg.correlationData: Buffer as is, string as UTF-8; else an error. */
export function toCorrelationData(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw new MessageError(`correlationData must be a Buffer or string (got ${v === null ? 'null' : typeof v})`);
}
