/**
 * The MQTT 5 limits the broker advertises (CONNACK properties) and enforces, with safe defaults,
 * and the reason codes used across the handlers (MQTT 5 section 2.4, Table 2-6).
 */
import type { BrokerLimits } from './types';

export const DEFAULT_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxConnections: 10000,
  maxPacketSize: 1024 * 1024,
  receiveMaximum: 100,
  maxInflight: 100,
  maxQueued: 1000,
  queueFullPolicy: 'drop-oldest',
  maxTopicLength: 65535,
  maxTopicLevels: 128,
  topicAliasMaximum: 65535,
  maxSessionExpiryInterval: 0xffffffff,
  connectTimeoutMs: 10000,
  keepAliveMin: 0,
  keepAliveMax: 65535,
  maximumQoS: 2,
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
} as BrokerLimits);

export function resolveLimits(partial?: Partial<BrokerLimits>): BrokerLimits {
  const l: BrokerLimits = { ...DEFAULT_LIMITS, ...(partial ?? {}) };
  const posInt = (v: number, min: number, max: number, def: number): number =>
    Number.isFinite(v) ? Math.min(max, Math.max(min, Math.floor(v))) : def;
  l.maxConnections = posInt(l.maxConnections, 1, 1e7, DEFAULT_LIMITS.maxConnections);
  // 268435455 is the largest packet the Remaining Length can describe (+5 header bytes), [MQTT-2.2.3].
  l.maxPacketSize = posInt(l.maxPacketSize, 64, 268435460, DEFAULT_LIMITS.maxPacketSize);
  l.receiveMaximum = posInt(l.receiveMaximum, 1, 65535, DEFAULT_LIMITS.receiveMaximum);
  l.maxInflight = posInt(l.maxInflight, 1, 65535, DEFAULT_LIMITS.maxInflight);
  l.maxQueued = posInt(l.maxQueued, 0, 1e7, DEFAULT_LIMITS.maxQueued);
  l.maxTopicLength = posInt(l.maxTopicLength, 1, 65535, DEFAULT_LIMITS.maxTopicLength);
  l.maxTopicLevels = posInt(l.maxTopicLevels, 1, 65535, DEFAULT_LIMITS.maxTopicLevels);
  l.topicAliasMaximum = posInt(l.topicAliasMaximum, 0, 65535, DEFAULT_LIMITS.topicAliasMaximum);
  l.maxSessionExpiryInterval = posInt(l.maxSessionExpiryInterval, 0, 0xffffffff, 0xffffffff);
  l.connectTimeoutMs = posInt(l.connectTimeoutMs, 10, 3600000, DEFAULT_LIMITS.connectTimeoutMs);
  l.keepAliveMin = posInt(l.keepAliveMin, 0, 65535, 0);
  l.keepAliveMax = posInt(l.keepAliveMax, 1, 65535, 65535);
  if (l.queueFullPolicy !== 'drop-newest') l.queueFullPolicy = 'drop-oldest';
  if (l.maximumQoS !== 0 && l.maximumQoS !== 1) l.maximumQoS = 2;
  return l;
}

/** MQTT 5 reason codes (Table 2-6) used by the broker. */
export const RC = {
  SUCCESS: 0x00,
  NORMAL_DISCONNECT: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  CONTINUE_AUTHENTICATION: 0x18,
  REAUTHENTICATE: 0x19,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  USE_ANOTHER_SERVER: 0x9c,
  SERVER_MOVED: 0x9d,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  MAXIMUM_CONNECT_TIME: 0xa0,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
export const RC3 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USER_NAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;

/** Map an MQTT 5 CONNACK reason code onto the MQTT 3.1.1 return code. */
export function connackCodeV3(rc: number): number {
  switch (rc) {
    case RC.SUCCESS:
      return RC3.ACCEPTED;
    case RC.UNSUPPORTED_PROTOCOL_VERSION:
      return RC3.UNACCEPTABLE_PROTOCOL_VERSION;
    case RC.CLIENT_IDENTIFIER_NOT_VALID:
      return RC3.IDENTIFIER_REJECTED;
    case RC.BAD_USER_NAME_OR_PASSWORD:
    case RC.BAD_AUTHENTICATION_METHOD:
      return RC3.BAD_USER_NAME_OR_PASSWORD;
    case RC.NOT_AUTHORIZED:
    case RC.BANNED:
      return RC3.NOT_AUTHORIZED;
    default:
      return RC3.SERVER_UNAVAILABLE;
  }
}

export const REASON_TEXT: Record<number, string> = {
  0x00: 'normal disconnection',
  0x04: 'disconnect with will message',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x87: 'not authorized',
  0x89: 'server busy',
  0x8b: 'server shutting down',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x8f: 'topic filter invalid',
  0x90: 'topic name invalid',
  0x93: 'receive maximum exceeded',
  0x94: 'topic alias invalid',
  0x95: 'packet too large',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9a: 'retain not supported',
  0x9b: 'QoS not supported',
  0x9e: 'shared subscriptions not supported',
  0x9f: 'connection rate exceeded',
  0xa1: 'subscription identifiers not supported',
  0xa2: 'wildcard subscriptions not supported',
};

export function reasonText(rc: number): string {
  return REASON_TEXT[rc] ?? `reason 0x${rc.toString(16).padStart(2, '0')}`;
}
