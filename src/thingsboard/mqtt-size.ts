/**
 * How many payload bytes fit in one MQTT PUBLISH packet of at most `maxPacketSize` bytes.
 *
 * A PUBLISH packet is (MQTT 5.0 §3.3, MQTT 3.1.1 §3.3):
 *   fixed header      1 byte (type + flags) + Remaining Length as a variable byte integer (1-4 bytes)
 *   variable header   topic name: 2-byte length + UTF-8 bytes
 *                     packet identifier: 2 bytes (QoS 1/2; always counted, QoS is chosen downstream)
 *                     MQTT 5 only: property length (variable byte integer) + the properties
 *   payload           the JSON text (UTF-8)
 * Remaining Length = variable header + payload; packet size = 1 + len(varint(RL)) + RL.
 *
 * ThingsBoard's MQTT transport (netty MqttDecoder, NETTY_MAX_PAYLOAD_SIZE default 65536) refuses a
 * packet whose Remaining Length exceeds the limit; keeping the WHOLE packet within the limit is a
 * few bytes stricter and so safe with either reading. Example, default limit 65536, topic
 * `v1/devices/me/telemetry` (23 bytes), no properties on the message:
 *   RL ≤ 65536 - 1 - 3 = 65532 (RL ≥ 16384 needs a 3-byte varint)
 *   payload ≤ 65532 - (2 + 23) - 2 - 1 (empty property length) = 65504 bytes.
 */

/** Bytes of an MQTT variable byte integer. */
export function varintLength(n: number): number {
  if (n < 0 || n > 268435455) throw new RangeError(`variable byte integer out of range: ${n}`);
  if (n < 128) return 1;
  if (n < 16384) return 2;
  if (n < 2097152) return 3;
  return 4;
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** A non-string user property value as an mqtt out node writes it (String for BigInt, JSON else; never throws). */
function propertyText(v: unknown): string {
  if (typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return String(v);
  }
}

/**
 * Bytes of the MQTT 5 PUBLISH properties that a Node-RED `mqtt out` node (core's, and ours) takes
 * from the message: responseTopic, correlationData, contentType, messageExpiryInterval,
 * userProperties, topicAlias, payloadFormatIndicator. Each is 1 identifier byte + its value.
 */
export function mqtt5PropertyBytes(msg: Record<string, unknown> | undefined): number {
  if (!msg) return 0;
  let n = 0;
  const str = (v: unknown): number => (typeof v === 'string' && v ? 1 + 2 + utf8(v) : 0);
  n += str(msg.responseTopic);
  n += str(msg.contentType);
  const cd = msg.correlationData;
  if (Buffer.isBuffer(cd)) n += 1 + 2 + cd.length;
  else if (typeof cd === 'string' && cd) n += 1 + 2 + utf8(cd);
  if (msg.messageExpiryInterval !== undefined && msg.messageExpiryInterval !== null) n += 1 + 4;
  if (msg.topicAlias !== undefined && msg.topicAlias !== null) n += 1 + 2;
  if (msg.payloadFormatIndicator !== undefined && msg.payloadFormatIndicator !== null) n += 1 + 1;
  const up = msg.userProperties;
  if (up && typeof up === 'object' && !Array.isArray(up)) {
    for (const [k, v] of Object.entries(up as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      const values = Array.isArray(v) ? v : [v];
      for (const one of values) {
        const text = typeof one === 'string' ? one : propertyText(one);
        n += 1 + 2 + utf8(k) + 2 + utf8(text);
      }
    }
  }
  return n;
}

/**
 * The largest payload (bytes) for `topic` such that the whole PUBLISH packet stays within
 * `maxPacketSize`, with `propertyBytes` of MQTT 5 properties (0 still costs the 1-byte property
 * length, which MQTT 3.1.1 does not have; counting it is 1 byte conservative for 3.1.1).
 */
export function payloadBudget(topic: string, maxPacketSize: number, propertyBytes: number): number {
  const variableHeader = 2 + utf8(topic) + 2 + varintLength(propertyBytes) + propertyBytes;
  let best = -1;
  for (let vl = 1; vl <= 4; vl++) {
    const maxRlForVl = [127, 16383, 2097151, 268435455][vl - 1] as number;
    const rl = Math.min(maxPacketSize - 1 - vl, maxRlForVl);
    if (rl < variableHeader) continue;
    // the varint of rl must really be vl bytes long or shorter (shorter only wastes a byte)
    if (varintLength(rl) > vl) continue;
    best = Math.max(best, rl - variableHeader);
  }
  return best;
}

/** Size of the whole PUBLISH packet for a payload of `payloadBytes`. */
export function publishPacketSize(topic: string, payloadBytes: number, propertyBytes: number): number {
  const rl = 2 + utf8(topic) + 2 + varintLength(propertyBytes) + propertyBytes + payloadBytes;
  return 1 + varintLength(rl) + rl;
}
