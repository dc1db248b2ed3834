/**
 * The transport-independent connection the `mqtt5-client` config node drives. Two implementations:
 * `ExternalConnection` (mqtt.js v5 over mqtt/mqtts/ws/wss) and `InProcessConnection` (the embedded
 * broker of an `mqtt5-broker` node, no socket). Both reconnect by themselves with backoff until
 * `stop()`.
 */
import { EventEmitter } from 'node:events';
import type { PublishProperties, QoS, Subscription, UserProperties } from '../../broker/types';

/** What the broker told us at connect time (CONNACK properties, or the embedded broker's limits). */
export interface ServerCapabilities {
  protocolVersion: 4 | 5;
  maximumPacketSize?: number;
  subscriptionIdentifiersAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  wildcardSubscriptionAvailable: boolean;
  retainAvailable: boolean;
  maximumQoS: QoS;
  topicAliasMaximum: number;
  assignedClientIdentifier?: string;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties;
}

export interface OutgoingMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: Omit<PublishProperties, 'topicAlias' | 'subscriptionIdentifier'>;
}

export interface ConnectionEvents {
  /** Connected (after every reconnect too). */
  connect: [info: { sessionPresent: boolean; caps: ServerCapabilities }];
  /** Trying to connect (first time or again). */
  connecting: [];
  /** Connection lost or refused; `reason` is for people, `reasonCode` the MQTT code when there is one. */
  disconnect: [info: { reason: string; reasonCode?: number }];
  message: [msg: IncomingMessage];
}

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: Omit<PublishProperties, 'topicAlias' | 'subscriptionIdentifier'> & { willDelayInterval?: number };
}

export interface ConnectionOptions {
  protocolVersion: 4 | 5;
  clientId: string;
  cleanStart: boolean;
  sessionExpiryInterval: number;
  keepAlive: number;
  username?: string;
  password?: string;
  userProperties?: UserProperties;
  will?: WillMessage;
  /** Reconnect backoff: first delay, doubling up to the max (ms). */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
}

/** publish/subscribe called while not connected. */
export class NotConnectedError extends Error {
  constructor() {
    super('not connected');
    this.name = 'NotConnectedError';
  }
}

export abstract class MqttConnection extends EventEmitter<ConnectionEvents> {
  abstract readonly connected: boolean;
  abstract readonly caps: ServerCapabilities | undefined;
  /** Start connecting (and keep reconnecting until stop()). */
  abstract start(): void;
  /** Resolves when acknowledged (QoS 1/2) or written (QoS 0); rejects with ReasonCodeError on refusal. */
  abstract publish(msg: OutgoingMessage): Promise<void>;
  /** One granted QoS or reason code (>= 0x80 refused) per subscription. */
  abstract subscribe(subs: Subscription[]): Promise<number[]>;
  abstract unsubscribe(filters: string[]): Promise<number[]>;
  /** Disconnect for good; `closeMessage` is published first when connected. */
  abstract stop(opts?: { closeMessage?: OutgoingMessage; timeoutMs?: number }): Promise<void>;

  protected backoff(attempt: number, min: number, max: number): number {
    const base = Math.min(max, min * 2 ** Math.min(attempt, 20));
    // +-20 % jitter so that many clients do not reconnect in lockstep
    return Math.max(min, Math.round(base * (0.8 + Math.random() * 0.4)));
  }
}
