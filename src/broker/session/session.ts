/**
 * Session state (MQTT 5 section 4.1): subscriptions, outbound inflight window + queue (QoS 1/2),
 * inbound QoS 2 packet ids, will message and expiry timers. Allocated lazily to keep idle
 * connections small.
 */
import type { BrokerMessage, ClientIdentity, ProtocolVersion, QoS, QueuedMessage, Subscription } from '../types';
import type { Subscriber } from '../routing/trie';
import { Deque } from './queue';

/** Shared by every session without subscriptions; never written to (replaced by a Map on the first subscription). */
export const NO_SUBS: Map<string, Subscription> = new Map();

/** A queued/inflight message; `share` names the $share subscription it came through. */
export interface SessionMessage extends QueuedMessage {
  share?: string;
}

/** What a session delivers through: a network connection or the in-process client. */
export interface Link {
  readonly protocolVersion: ProtocolVersion;
  readonly identity: ClientIdentity;
  /** The client's Receive Maximum (outbound QoS>0 window). */
  readonly clientReceiveMaximum: number;
  /** In-process links consume messages synchronously: no packet ids, no acks. */
  readonly autoAck: boolean;
  /** False when the transport is congested (QoS 0 deliveries are then dropped and counted). */
  writable(): boolean;
  /** Send a PUBLISH; returns false when it could not be sent (e.g. larger than the client's maximum). */
  sendPublish(msg: BrokerMessage, qos: QoS, messageId: number, dup: boolean, subIds: number[] | undefined): boolean;
  sendPubrel(messageId: number): void;
  /** True when publishers feeding this link should be slowed down (congested, not stalled). */
  pressure(): boolean;
  /** Close with an MQTT 5 reason code (DISCONNECT sent where the protocol allows). */
  close(reasonCode: number, reasonString?: string): void;
}

export interface WillState {
  message: BrokerMessage;
  delayInterval: number;
}

export class Session implements Subscriber {
  username: string | undefined;
  protocolVersion: ProtocolVersion = 5;
  /** Seconds; 0 = ends with the connection; 0xFFFFFFFF = never expires. */
  expiryInterval = 0;
  /** Expiry given in CONNECT (DISCONNECT may not raise it from 0, 3.14.2.2.2). */
  connectExpiry = 0;
  /** Subscriptions by filter: the shared empty NO_SUBS until the first one (see Broker.addSubscription). */
  subs: Map<string, Subscription> = NO_SUBS;
  link: Link | null = null;
  inflight: Map<number, SessionMessage> | null = null;
  queue: Deque<SessionMessage> | null = null;
  inboundQos2: Set<number> | null = null;
  will: WillState | null = null;
  willTimer: NodeJS.Timeout | null = null;
  expiryTimer: NodeJS.Timeout | null = null;
  disconnectedAt: number | undefined;
  private nextId = 0;
  seq = 0;
  /** Routing scratch: generation of the last route that matched this session, and its index there. */
  gen = 0;
  idx = 0;
  /** Set once the session is gone (expired, clean start replaced it). */
  destroyed = false;

  constructor(readonly clientId: string) {}

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  get inflightCount(): number {
    return this.inflight === null ? 0 : this.inflight.size;
  }

  get queuedCount(): number {
    return this.queue === null ? 0 : this.queue.length;
  }

  /** Next free packet identifier (1..65535) not used by an inflight message, [MQTT-2.2.1-4]. */
  allocMessageId(): number {
    const inflight = this.inflight;
    for (let i = 0; i < 65535; i++) {
      this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
      if (inflight === null || !inflight.has(this.nextId)) return this.nextId;
    }
    return 0;
  }

  identity(): ClientIdentity {
    return this.link?.identity ?? { clientId: this.clientId, username: this.username, protocolVersion: this.protocolVersion };
  }

  clearTimers(): void {
    if (this.willTimer) clearTimeout(this.willTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.willTimer = null;
    this.expiryTimer = null;
  }
}
