/**
 * The `mqtt5-client` node's settings (editor defaults ↔ runtime), and their translation into a
 * connection + controller. Kept free of Node-RED so it can be unit tested.
 */
import * as crypto from 'node:crypto';
import type { QoS } from '../../broker/types';
import { ClientController } from './client-controller';
import type { ConnectionOptions, OutgoingMessage, WillMessage } from './connection';
import { ExternalConnection } from './external-connection';
import { InProcessConnection } from './inprocess-connection';
import { describeValue, entriesToUserProperties, propertiesError, UserPropertyEntry } from './messages';
import { validatePublishTopic } from './topics';

export interface LastWillConfig {
  topic?: string;
  payload?: string;
  qos?: string | number;
  retain?: boolean | string;
  contentType?: string;
  messageExpiry?: string | number;
  userProps?: UserPropertyEntry[];
  /** will only */
  delay?: string | number;
}

export interface ClientConfig {
  name?: string;
  /** 'external' (URL) or 'embedded' (an mqtt5-broker node in this Node-RED) */
  brokerType?: string;
  broker?: string;
  embeddedBroker?: string;
  usetls?: boolean;
  tls?: string;
  protocolVersion?: string | number;
  clientId?: string;
  cleanStart?: boolean;
  sessionExpiry?: string | number;
  keepAlive?: string | number;
  connectProps?: UserPropertyEntry[];
  topicAliases?: boolean;
  reconnectPeriod?: string | number;
  reconnectMax?: string | number;
  connectTimeout?: string | number;
  queueSize?: string | number;
  // birth / close / will messages: flat fields <kind>Topic, <kind>Payload, <kind>Qos, <kind>Retain,
  // <kind>ContentType, <kind>Expiry, <kind>UserProps (+ willDelay), as the editor stores them
  [key: string]: unknown;
}

/** The flat <kind>* fields of the config as one message config. */
export function messageConfig(cfg: ClientConfig, kind: 'birth' | 'close' | 'will'): LastWillConfig | undefined {
  const topic = cfg[`${kind}Topic`];
  if (typeof topic !== 'string' || topic === '') return undefined;
  return {
    topic,
    payload: String(cfg[`${kind}Payload`] ?? ''),
    qos: cfg[`${kind}Qos`] as string | number,
    retain: cfg[`${kind}Retain`] as boolean | string,
    contentType: (cfg[`${kind}ContentType`] as string) || '',
    messageExpiry: cfg[`${kind}Expiry`] as string | number,
    userProps: (cfg[`${kind}UserProps`] as UserPropertyEntry[]) ?? [],
    ...(kind === 'will' ? { delay: cfg.willDelay as string | number } : {}),
  };
}

function num(v: unknown, dflt: number, min: number, max: number, what: string): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${what} must be a whole number ${min}..${max} (got ${describeValue(v)})`);
  }
  return n;
}

function message(c: LastWillConfig | undefined, what: string, v5: boolean): WillMessage | undefined {
  if (!c || !c.topic) return undefined;
  const err = validatePublishTopic(c.topic);
  if (err) throw new Error(`${what} message: ${err}`);
  const properties: NonNullable<WillMessage['properties']> = {};
  if (v5) {
    if (c.contentType) properties.contentType = c.contentType;
    const exp = num(c.messageExpiry, 0, 0, 0xffffffff, `${what} message expiry`);
    if (exp) properties.messageExpiryInterval = exp;
    const up = entriesToUserProperties(c.userProps);
    if (Object.keys(up).length) properties.userProperties = up;
    const delay = num(c.delay, 0, 0, 0xffffffff, `${what} delay`);
    if (delay) properties.willDelayInterval = delay;
  }
  const perr = propertiesError(properties);
  if (perr) throw new Error(`${what} message: ${perr}`);
  return {
    topic: c.topic,
    payload: Buffer.from(c.payload ?? '', 'utf8'),
    qos: num(c.qos, 0, 0, 2, `${what} QoS`) as QoS,
    retain: c.retain === true || c.retain === 'true',
    ...(Object.keys(properties).length ? { properties } : {}),
  };
}

/** URL.canParse, which Node 18 before 18.17 lacks. */
function parsable(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

export function generatedClientId(): string {
  return `mqtt5hub_${crypto.randomBytes(5).toString('hex')}`;
}

/** Throws Error with a precise text on invalid settings. */
export function createController(
  cfg: ClientConfig,
  creds: { user?: string; password?: string },
  tls?: Record<string, unknown>,
): ClientController {
  const embedded = cfg.brokerType === 'embedded';
  const protocolVersion = embedded ? 5 : Number(cfg.protocolVersion ?? 5) === 4 ? 4 : 5;
  const v5 = protocolVersion === 5;
  const will = message(messageConfig(cfg, 'will'), 'will', v5);
  const birth = message(messageConfig(cfg, 'birth'), 'birth', v5) as OutgoingMessage | undefined;
  const close = message(messageConfig(cfg, 'close'), 'close', v5) as OutgoingMessage | undefined;
  const reconnectMinMs = num(cfg.reconnectPeriod, 1000, 50, 3600000, 'reconnect period');
  const base: ConnectionOptions = {
    protocolVersion,
    clientId: cfg.clientId || generatedClientId(),
    cleanStart: cfg.cleanStart !== false,
    sessionExpiryInterval: v5 ? num(cfg.sessionExpiry, 0, 0, 0xffffffff, 'session expiry') : 0,
    keepAlive: num(cfg.keepAlive, 60, 0, 65535, 'keep alive'),
    reconnectMinMs,
    reconnectMaxMs: Math.max(reconnectMinMs, num(cfg.reconnectMax, 30000, 50, 3600000, 'maximum reconnect period')),
    connectTimeoutMs: num(cfg.connectTimeout, 30, 1, 3600, 'connect timeout') * 1000,
    ...(creds.user ? { username: creds.user } : {}),
    ...(creds.password ? { password: creds.password } : {}),
    ...(v5 ? { userProperties: entriesToUserProperties(cfg.connectProps) } : {}),
    ...(will ? { will } : {}),
  };
  let connection;
  if (embedded) {
    if (!cfg.embeddedBroker) throw new Error('no embedded broker selected: pick an mqtt5-broker node');
    connection = new InProcessConnection({ ...base, brokerNodeId: cfg.embeddedBroker });
  } else {
    const url = (cfg.broker ?? '').trim();
    // new URL() also refuses what mqtt.js would throw on when connecting (port > 65535, broken IPv6 brackets)
    if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^\s/]+/i.test(url) || !parsable(url)) {
      throw new Error(`broker URL "${url}" is not valid: use mqtt://host:1883, mqtts://host:8883, ws://host/mqtt or wss://host/mqtt`);
    }
    connection = new ExternalConnection({
      ...base,
      url,
      topicAliases: cfg.topicAliases !== false,
      ...(tls ? { tls } : {}),
    });
  }
  return new ClientController(connection, {
    queueSize: num(cfg.queueSize, 1000, 0, 1000000, 'offline queue size'),
    protocolVersion,
    ...(birth ? { birth } : {}),
    ...(close ? { close } : {}),
  });
}
