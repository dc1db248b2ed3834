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

export abstract class MqttConnection<O extends ConnectionOptions = ConnectionOptions> extends EventEmitter<ConnectionEvents> {
  /** stop() was called: no reconnect, no events of interest any more. */
  protected stopping = false;
  /** Failed attempts since the last success (backoff exponent). */
  protected attempt = 0;
  protected _caps: ServerCapabilities | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(protected readonly opts: O) {
    super();
  }

  abstract readonly connected: boolean;
  get caps(): ServerCapabilities | undefined {
    return this._caps;
  }
  /** Start connecting (and keep reconnecting until stop()). */
  abstract start(): void;
  /** Resolves when acknowledged (QoS 1/2) or written (QoS 0); rejects with ReasonCodeError on refusal. */
  abstract publish(msg: OutgoingMessage): Promise<void>;
  /** One granted QoS or reason code (>= 0x80 refused) per subscription. */
  abstract subscribe(subs: Subscription[]): Promise<number[]>;
  abstract unsubscribe(filters: string[]): Promise<number[]>;
  /** Close the underlying client (stop() has already set `stopping` and cancelled the retry), within `timeoutMs`. */
  protected abstract shutdown(timeoutMs: number): Promise<void>;

  /** Disconnect for good; `closeMessage` is published first when connected (waiting 2 s at most). */
  async stop(opts: { closeMessage?: OutgoingMessage; timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    const timeoutMs = opts.timeoutMs ?? 2000;
    if (opts.closeMessage && this.connected) {
      await withTimeout(this.publish(opts.closeMessage).catch(() => undefined), Math.min(2000, timeoutMs));
    }
    this.stopping = true;
    this.cancelRetry();
    await this.shutdown(timeoutMs);
  }

  /** Calls `fn` after the next backoff delay; nothing when a retry is already scheduled or stop() was called. */
  protected retryLater(fn: () => void): void {
    if (this.stopping || this.retryTimer) return;
    const base = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** Math.min(this.attempt++, 20));
    // +-20 % jitter so that many clients do not reconnect in lockstep
    const delay = Math.max(this.opts.reconnectMinMs, Math.round(base * (0.8 + Math.random() * 0.4)));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopping) fn();
    }, delay);
  }

  protected cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

/** `p`, or undefined after `ms` (the timer does not outlive the race). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
