/**
 * Packet codec glue around mqtt-packet, plus a purpose-built fast path for the hot packets:
 * PUBLISH without properties and the 2-byte acknowledgements, both ways. Everything else (and
 * every PUBLISH carrying properties) goes through mqtt-packet. test/broker/codec.test.ts proves
 * the fast path byte-for-byte against mqtt-packet (generate) and field-for-field (parse).
 *
 * Connections frame packets themselves (fixed header + Remaining Length) and hand mqtt-packet only
 * complete packets, so ONE parser per protocol version is shared by every connection: no parser
 * (and no BufferList stream) per connection.
 */
import * as mqtt from 'mqtt-packet';
import type { ProtocolVersion } from './types';

// mqtt-packet pre-builds 65,536 cached number buffers (~6 MB) on its first generate(); the hot
// packets are encoded here, so the cache buys nothing: generate numbers on the fly instead.
(mqtt as unknown as { writeToStream: { cacheNumbers: boolean } }).writeToStream.cacheNumbers = false;

const PARSERS: Array<mqtt.Parser | null> = [null, null, null, null, null, null];
let parsed: any = null;
let parseError: Error | null = null;

function sharedParser(pv: ProtocolVersion): mqtt.Parser {
  let p = PARSERS[pv];
  if (!p) {
    p = mqtt.parser({ protocolVersion: pv });
    p.on('packet', (packet: any) => {
      parsed = packet;
    });
    p.on('error', (e: Error) => {
      parseError = e;
    });
    PARSERS[pv] = p;
  }
  return p;
}

/**
 * Parse ONE complete packet with mqtt-packet. Returns the packet, or an Error when malformed.
 */
export function parseComplete(buf: Buffer, pv: ProtocolVersion): any {
  const p = sharedParser(pv);
  parsed = null;
  parseError = null;
  let left = 0;
  try {
    left = p.parse(buf);
  } catch (e) {
    parseError = e as Error;
  }
  // mqtt-packet adopts a parsed CONNECT as its settings (protocol version): undo that, the
  // parser is shared
  (p as unknown as { settings: { protocolVersion: number } }).settings = { protocolVersion: pv };
  const packet = parsed;
  const err = parseError;
  parsed = null;
  parseError = null;
  if (err || packet === null || left !== 0) {
    // never leave state behind in the shared parser
    PARSERS[pv] = null;
    return err ?? new Error('malformed packet');
  }
  return packet;
}

/** The PUBLISH packet object handlers use (same fields as mqtt-packet's). */
export interface FastPublish {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
  messageId: number | undefined;
  length: number;
  properties?: undefined;
}

/**
 * Decode a complete PUBLISH (`buf` = whole packet, `hdr` = fixed header length) when it has no
 * properties; returns null to let mqtt-packet handle it (properties present, or anything odd).
 */
export function decodePublishFast(buf: Buffer, hdr: number, pv: ProtocolVersion): FastPublish | null {
  const b0 = buf[0]!;
  const qos = (b0 >> 1) & 3;
  if (qos === 3) return null;
  let pos = hdr;
  const end = buf.length;
  if (pos + 2 > end) return null;
  const tlen = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (pos + tlen > end) return null;
  const topic = buf.toString('utf8', pos, pos + tlen);
  pos += tlen;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return null;
    messageId = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
  }
  if (pv === 5) {
    // properties length must be a single 0 byte for the fast path
    if (pos >= end || buf[pos] !== 0) return null;
    pos += 1;
  }
  return {
    cmd: 'publish',
    topic,
    payload: buf.subarray(pos),
    qos,
    retain: (b0 & 1) === 1,
    dup: (b0 & 8) === 8,
    messageId,
    length: end - hdr,
  };
}

/**
 * Decode a complete CONNECT in the common shapes (MQTT 3.1 / 3.1.1, and MQTT 5 with empty
 * CONNECT and will properties). Anything else, or anything odd, returns null for mqtt-packet.
 * Produces the same object as mqtt-packet (codec.test.ts checks it).
 */
export function decodeConnectFast(buf: Buffer, hdr: number): any {
  if (buf[0] !== 0x10) return null;
  const end = buf.length;
  let pos = hdr;
  const str = (): string | null => {
    if (pos + 2 > end) return null;
    const l = (buf[pos]! << 8) | buf[pos + 1]!;
    if (pos + 2 + l > end) return null;
    const v = buf.toString('utf8', pos + 2, pos + 2 + l);
    pos += 2 + l;
    return v;
  };
  const bin = (): Buffer | null => {
    if (pos + 2 > end) return null;
    const l = (buf[pos]! << 8) | buf[pos + 1]!;
    if (pos + 2 + l > end) return null;
    const v = buf.subarray(pos + 2, pos + 2 + l);
    pos += 2 + l;
    return v;
  };
  const protocolId = str();
  if (protocolId !== 'MQTT' && protocolId !== 'MQIsdp') return null;
  if (pos + 4 > end) return null;
  const protocolVersion = buf[pos++]!;
  if (protocolVersion !== 3 && protocolVersion !== 4 && protocolVersion !== 5) return null;
  const flags = buf[pos++]!;
  if (flags & 1) return null;
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags & 0x18) >> 3;
  const willRetain = (flags & 0x20) !== 0;
  if (!willFlag && (willQos || willRetain)) return null;
  const keepalive = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (protocolVersion === 5) {
    if (pos >= end || buf[pos] !== 0) return null; // CONNECT properties present
    pos++;
  }
  const clientId = str();
  if (clientId === null) return null;
  const packet: any = {
    cmd: 'connect',
    retain: false,
    qos: 0,
    dup: false,
    length: end - hdr,
    topic: null,
    payload: null,
    protocolId,
    protocolVersion,
  };
  if (willFlag) packet.will = { retain: willRetain, qos: willQos };
  packet.clean = (flags & 0x02) !== 0;
  packet.keepalive = keepalive;
  packet.clientId = clientId;
  if (willFlag) {
    if (protocolVersion === 5) {
      if (pos >= end || buf[pos] !== 0) return null; // will properties present
      pos++;
    }
    const topic = str();
    if (topic === null) return null;
    packet.will.topic = topic;
    const payload = bin();
    if (payload === null) return null;
    packet.will.payload = payload;
  }
  if (flags & 0x80) {
    const username = str();
    if (username === null) return null;
    packet.username = username;
  }
  if (flags & 0x40) {
    const password = bin();
    if (password === null) return null;
    packet.password = password;
  }
  if (pos !== end) return null;
  return packet;
}

function varIntLength(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Encode a PUBLISH without properties (MQTT 5: with a zero properties length). */
export function encodePublishFast(
  topic: string,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  messageId: number,
  pv: ProtocolVersion,
): Buffer {
  const tlen = Buffer.byteLength(topic);
  const remaining = 2 + tlen + (qos > 0 ? 2 : 0) + (pv === 5 ? 1 : 0) + payload.length;
  const vl = varIntLength(remaining);
  const buf = Buffer.allocUnsafe(1 + vl + remaining);
  buf[0] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = 1;
  let n = remaining;
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 128;
    buf[pos++] = d;
  } while (n > 0);
  buf[pos++] = tlen >> 8;
  buf[pos++] = tlen & 255;
  pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) {
    buf[pos++] = messageId >> 8;
    buf[pos++] = messageId & 255;
  }
  if (pv === 5) buf[pos++] = 0;
  payload.copy(buf, pos);
  return buf;
}

const ACK_TYPE: Record<string, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

/** PUBACK / PUBREC / PUBREL / PUBCOMP with reason 0 and no properties (2-byte form). */
export function encodeAckFast(cmd: string, messageId: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = ACK_TYPE[cmd]!;
  b[1] = 2;
  b[2] = messageId >> 8;
  b[3] = messageId & 255;
  return b;
}

export function generate(packet: any, pv: ProtocolVersion): Buffer {
  return mqtt.generate(packet, { protocolVersion: pv });
}
