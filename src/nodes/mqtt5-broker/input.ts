/**
 * Input message validation for the mqtt5-broker node: msg.topic / msg.payload / msg.qos /
 * msg.retain and the MQTT 5 properties (flat on msg like the core mqtt nodes, or in msg.properties).
 */
import type { PublishProperties, QoS } from '../../broker/types';
import { describeValue } from '../shared/messages';

export interface NodeMsg {
  [key: string]: unknown;
  topic?: unknown;
  payload?: unknown;
}

/** msg value → bytes; throws an Error naming `what` when an object cannot be written as JSON (circular, BigInt inside). */
export function payloadToBuffer(p: unknown, what = 'msg.payload'): Buffer {
  if (Buffer.isBuffer(p)) return Buffer.from(p); // a copy: the broker keeps it, the flow may reuse its buffer
  if (p === undefined || p === null) return Buffer.alloc(0);
  if (typeof p === 'string') return Buffer.from(p);
  if (typeof p === 'object') {
    try {
      return Buffer.from(JSON.stringify(p));
    } catch (e) {
      throw new Error(`${what} cannot be converted to JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  return Buffer.from(String(p));
}

export function isValidUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Validates the publish fields of an input message; returns an error text or the publish. */
export function inputToPublish(msg: NodeMsg): string | { topic: string; payload: Buffer; qos: QoS; retain: boolean; properties: PublishProperties } {
  const topic = msg.topic;
  if (typeof topic !== 'string' || topic === '') return 'msg.topic must be a non-empty string';
  if (/[+#]/.test(topic)) return `msg.topic "${topic}" contains a wildcard (+ or #); a publish needs a plain topic`;
  if (topic.includes('\u0000')) return 'msg.topic contains a NUL character';
  if (Buffer.byteLength(topic) > 65535) return 'msg.topic is longer than 65535 bytes';
  const qosRaw = msg.qos === undefined || msg.qos === '' ? 0 : typeof msg.qos === 'symbol' ? NaN : Number(msg.qos);
  if (qosRaw !== 0 && qosRaw !== 1 && qosRaw !== 2) return `msg.qos must be 0, 1 or 2 (got ${describeValue(msg.qos)})`;
  const retain = msg.retain === true || msg.retain === 'true';
  const src = (msg.properties && typeof msg.properties === 'object' ? msg.properties : {}) as Record<string, unknown>;
  const pick = (k: string): unknown => (msg[k] !== undefined ? msg[k] : src[k]);
  const properties: PublishProperties = {};
  const up = pick('userProperties');
  if (up !== undefined) {
    if (!up || typeof up !== 'object' || Array.isArray(up)) return 'msg.userProperties must be an object of string values';
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up as Record<string, unknown>)) {
      if (Array.isArray(v)) out[k] = v.map((x) => String(x));
      else if (v !== undefined && v !== null) out[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    properties.userProperties = out;
  }
  const ct = pick('contentType');
  if (ct !== undefined) {
    if (typeof ct !== 'string') return 'msg.contentType must be a string';
    properties.contentType = ct;
  }
  const rt = pick('responseTopic');
  if (rt !== undefined) {
    if (typeof rt !== 'string' || rt === '' || /[+#]/.test(rt)) return 'msg.responseTopic must be a non-empty topic without wildcards';
    properties.responseTopic = rt;
  }
  let payload: Buffer;
  try {
    const cd = pick('correlationData');
    if (cd !== undefined) properties.correlationData = payloadToBuffer(cd, 'msg.correlationData');
    payload = payloadToBuffer(msg.payload);
  } catch (e) {
    return (e as Error).message;
  }
  const mei = pick('messageExpiryInterval');
  if (mei !== undefined) {
    const n = Number(mei);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) return 'msg.messageExpiryInterval must be an integer number of seconds (0-4294967295)';
    properties.messageExpiryInterval = n;
  }
  const pfi = pick('payloadFormatIndicator');
  if (pfi !== undefined) properties.payloadFormatIndicator = pfi === true || pfi === 1 || pfi === 'true';
  // as mqtt5-out: a missing payload is a mistake in the flow, not an empty message (null or '' is one)
  if (msg.payload === undefined) return 'msg.payload is missing (undefined); send null or "" to publish an empty message';
  return { topic, payload, qos: qosRaw as QoS, retain, properties };
}

