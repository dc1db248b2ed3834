/**
 * Pre-encoded MQTT packets and a minimal byte-level reader for the load generator.
 *
 * mqtt-packet is used only to build templates once; during a measurement the generator copies
 * templates, patches packet identifiers in place, and reads only fixed headers (plus the packet
 * identifier of QoS > 0 PUBLISH / PUBREC / PUBREL), so it stays far cheaper than the brokers.
 */
import * as mqtt from 'mqtt-packet';

export type Version = 4 | 5;

export const TYPE_CONNACK = 2;
export const TYPE_PUBLISH = 3;
export const TYPE_PUBACK = 4;
export const TYPE_PUBREC = 5;
export const TYPE_PUBREL = 6;
export const TYPE_PUBCOMP = 7;
export const TYPE_SUBACK = 9;

export function encodeConnect(clientId: string, version: Version, keepalive = 60): Buffer {
  return mqtt.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, clientId, keepalive } as mqtt.IConnectPacket,
    { protocolVersion: version },
  );
}

export function encodeSubscribe(messageId: number, topic: string, qos: 0 | 1 | 2, version: Version): Buffer {
  return mqtt.generate(
    { cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] } as mqtt.ISubscribePacket,
    { protocolVersion: version },
  );
}

export function encodeDisconnect(version: Version): Buffer {
  return mqtt.generate({ cmd: 'disconnect' } as mqtt.IDisconnectPacket, { protocolVersion: version });
}

/** A PUBLISH template; for QoS > 0 `pidOffset` is where the 2-byte packet identifier sits. */
export interface PublishTemplate {
  buf: Buffer;
  pidOffset: number;
}

export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1 | 2, version: Version): PublishTemplate {
  const packet = { cmd: 'publish', topic, payload, qos, retain: false, dup: false } as mqtt.IPublishPacket;
  if (qos > 0) packet.messageId = 0xabcd;
  const buf = mqtt.generate(packet, { protocolVersion: version });
  if (qos === 0) return { buf, pidOffset: -1 };
  // fixed header (1 byte + varint length), topic length (2) + topic, then the packet identifier
  let i = 1;
  while (buf[i] & 0x80) i++;
  const pidOffset = i + 1 + 2 + Buffer.byteLength(topic);
  if (buf.readUInt16BE(pidOffset) !== 0xabcd) throw new Error('unexpected PUBLISH layout');
  return { buf, pidOffset };
}

/** `count` copies of a QoS 0 PUBLISH back to back: one socket write sends a batch. */
export function repeat(buf: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(buf.length * count);
  for (let k = 0; k < count; k++) buf.copy(out, k * buf.length);
  return out;
}

/** 4-byte acknowledgement templates (reason code 0 needs no more bytes in MQTT 5 either). */
export function ackTemplate(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', version: Version): Buffer {
  const b = mqtt.generate({ cmd, messageId: 1 } as mqtt.Packet, { protocolVersion: version });
  if (b.length !== 4) throw new Error(`unexpected ${cmd} size ${b.length}`);
  return b;
}

/** Writes `pids.length` copies of a 4-byte ack into one buffer, each with its packet identifier. */
export function acks(first: number, pids: number[], n: number): Buffer {
  const out = Buffer.allocUnsafe(4 * n);
  for (let k = 0; k < n; k++) {
    const o = 4 * k;
    out[o] = first;
    out[o + 1] = 2;
    out[o + 2] = pids[k] >> 8;
    out[o + 3] = pids[k] & 0xff;
  }
  return out;
}

/**
 * Returns a 'data' handler that splits a byte stream into MQTT packets and calls
 * `onPacket(firstByte, buf, bodyStart, bodyEnd)` for each complete one. Only a packet split
 * across two reads is ever copied.
 */
export function packetReader(
  onPacket: (first: number, buf: Buffer, start: number, end: number) => void,
): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk: Buffer) => {
    const buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    const n = buf.length;
    let i = 0;
    while (i < n) {
      let j = i + 1;
      let len = 0;
      let mul = 1;
      let complete = false;
      while (j < n) {
        const b = buf[j++];
        len += (b & 0x7f) * mul;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        mul *= 128;
        if (mul > 128 * 128 * 128) throw new Error('malformed remaining length from broker');
      }
      if (!complete || j + len > n) break;
      onPacket(buf[i], buf, j, j + len);
      i = j + len;
    }
    if (i < n) pending = Buffer.from(buf.subarray(i));
  };
}

/** Packet identifier of a QoS > 0 PUBLISH whose body starts at `start`. */
export function publishPid(buf: Buffer, start: number): number {
  const tl = (buf[start] << 8) | buf[start + 1];
  const o = start + 2 + tl;
  return (buf[o] << 8) | buf[o + 1];
}
