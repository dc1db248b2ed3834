/**
 * The shared client behind one `mqtt5-client` config node: one connection for every node that uses
 * the config, message routing by subscription identifier (with local filter matching as fallback),
 * identical subscriptions merged, a bounded offline queue for QoS 1/2 publishes, QoS 0 drops counted,
 * birth / close messages, and one status that every user node shows.
 */
import { EventEmitter } from 'node:events';
import * as mqttPacket from 'mqtt-packet';
import type { QoS } from '../../broker/types';
import { NotConnectedError } from './connection';
import type { IncomingMessage, MqttConnection, OutgoingMessage, ServerCapabilities } from './connection';
import { MessageError, propertiesError } from './messages';
import { isFailure, reasonText } from './reason-codes';
import { stripShare, topicMatches } from './topics';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected';

export interface ClientStatus {
  state: ConnectionState;
  /** Why we are not connected (bad credentials, DNS error, server shutting down...). */
  reason?: string;
  reasonCode?: number;
  /** QoS 1/2 messages waiting in the offline queue. */
  queued: number;
  /** QoS 0 messages dropped while disconnected since start. */
  dropped: number;
}

export interface SubscribeSpec {
  /** Full filter, `$share/<group>/` prefix included. */
  filter: string;
  qos: QoS;
  nl?: boolean;
  rap?: boolean;
  rh?: 0 | 1 | 2;
}

export interface SubscriptionHandler {
  onMessage(msg: IncomingMessage): void;
  /** Result of each SUBSCRIBE for this filter: granted QoS (0-2) or a failure reason code (>= 0x80). */
  onSubscribed?(filter: string, code: number): void;
}

interface Entry {
  spec: SubscribeSpec;
  /** spec.filter without its $share prefix: what incoming topics are matched against */
  match: string;
  id: number;
  handlers: Map<object, SubscriptionHandler>;
  granted?: number;
}

interface Queued {
  seq: number;
  msg: OutgoingMessage;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class OfflineDropError extends Error {
  constructor(readonly dropped: number) {
    super(`not connected: QoS 0 message dropped (${dropped} dropped so far); use QoS 1 or 2 to queue messages while offline`);
    this.name = 'OfflineDropError';
  }
}

export class QueueFullError extends Error {
  constructor(size: number) {
    super(`not connected and the offline queue is full (${size} messages): message not sent`);
    this.name = 'QueueFullError';
  }
}

export interface ControllerOptions {
  /** Maximum QoS 1/2 messages held while disconnected. */
  queueSize: number;
  birth?: OutgoingMessage;
  close?: OutgoingMessage;
  protocolVersion: 4 | 5;
}

const MAX_SUB_ID = 268435455;

export class ClientController extends EventEmitter<{ status: [ClientStatus]; warn: [string] }> {
  private readonly entries = new Map<string, Entry>();
  private readonly byId = new Map<number, Entry>();
  private readonly pendingUnsubscribe = new Map<string, NodeJS.Timeout>();
  private nextId = 1;
  private readonly queue: Queued[] = [];
  private seq = 0;
  private ready = false;
  private started = false;
  private closed = false;
  private _status: ClientStatus = { state: 'idle', queued: 0, dropped: 0 };

  constructor(
    readonly connection: MqttConnection,
    private readonly opts: ControllerOptions,
  ) {
    super();
    this.setMaxListeners(0);
    connection.on('connecting', () => this.setStatus({ state: 'connecting' }));
    connection.on('connect', () => void this.onConnect());
    connection.on('disconnect', (info) => {
      this.ready = false;
      this.setStatus({ state: 'disconnected', reason: info.reason, reasonCode: info.reasonCode });
    });
    connection.on('message', (m) => this.route(m));
  }

  get status(): ClientStatus {
    return { ...this._status };
  }
  get connected(): boolean {
    return this.ready && this.connection.connected;
  }
  /** Connected and every subscription acknowledged (SUBACK received) at least once. */
  get settled(): boolean {
    if (!this.connected) return false;
    for (const e of this.entries.values()) if (e.granted === undefined) return false;
    return true;
  }
  get caps(): ServerCapabilities | undefined {
    return this.connection.caps;
  }

  private setStatus(s: Partial<ClientStatus>): void {
    const next: ClientStatus = { ...this._status, ...s, queued: this.queue.length };
    if (s.state === 'connected' || s.state === 'connecting') {
      delete next.reason;
      delete next.reasonCode;
      if (s.state === 'connecting' && this._status.reason) next.reason = this._status.reason; // keep last failure visible
    }
    this._status = next;
    this.emit('status', { ...next });
  }

  /** A node starts using this connection; the first one connects it. */
  register(_user: object): void {
    if (!this.started && !this.closed) {
      this.started = true;
      this.connection.start();
    }
  }

  /**
   * A node stops using this connection. `removed` (the node was deleted): its subscriptions are
   * unsubscribed at once. Otherwise (redeploy, shutdown) UNSUBSCRIBE is deferred: if the connection
   * closes meanwhile, or the restarted node subscribes the same filter again, the broker keeps the
   * subscription, so a persistent session (clean start off) still collects messages.
   */
  deregister(user: object, removed = true): void {
    for (const [filter, e] of this.entries) {
      if (e.handlers.delete(user) && e.handlers.size === 0) this.dropEntry(filter, e, removed);
    }
  }

  // ---------------------------------------------------------------- subscriptions

  /** Subscribe `owner` to spec.filter. Identical filters share one broker subscription. */
  subscribe(owner: object, spec: SubscribeSpec, handler: SubscriptionHandler): void {
    let e = this.entries.get(spec.filter);
    const pending = this.pendingUnsubscribe.get(spec.filter);
    if (pending) {
      clearTimeout(pending);
      this.pendingUnsubscribe.delete(spec.filter);
    }
    if (!e) {
      e = { spec: { ...spec }, match: stripShare(spec.filter), id: this.allocId(), handlers: new Map() };
      this.entries.set(spec.filter, e);
      this.byId.set(e.id, e);
      e.handlers.set(owner, handler);
      if (this.connection.connected) void this.sendSubscribe([e]);
      return;
    }
    e.handlers.set(owner, handler);
    if (spec.qos > e.spec.qos) {
      e.spec.qos = spec.qos; // the highest QoS any user asks for
      if (this.connection.connected) void this.sendSubscribe([e]);
    } else if (e.granted !== undefined) {
      handler.onSubscribed?.(spec.filter, e.granted);
    }
  }

  unsubscribe(owner: object, filter: string): boolean {
    const e = this.entries.get(filter);
    if (!e || !e.handlers.delete(owner)) return false;
    if (e.handlers.size === 0) this.dropEntry(filter, e, true);
    return true;
  }

  /** Filters `owner` is subscribed to. */
  subscriptionsOf(owner: object): SubscribeSpec[] {
    const out: SubscribeSpec[] = [];
    for (const e of this.entries.values()) if (e.handlers.has(owner)) out.push({ ...e.spec });
    return out;
  }

  private dropEntry(filter: string, e: Entry, now: boolean): void {
    this.entries.delete(filter);
    this.byId.delete(e.id);
    const send = (): void => {
      this.pendingUnsubscribe.delete(filter);
      if (this.closed || this.entries.has(filter) || !this.connection.connected) return;
      void this.connection.unsubscribe([filter]).catch(() => undefined);
    };
    if (now) return send();
    const t = setTimeout(send, 1000);
    t.unref();
    this.pendingUnsubscribe.set(filter, t);
  }

  private allocId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= MAX_SUB_ID ? 1 : this.nextId + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  private async sendSubscribe(list: Entry[]): Promise<void> {
    if (!list.length) return;
    const useIds = !!this.connection.caps?.subscriptionIdentifiersAvailable;
    try {
      const codes = await this.connection.subscribe(
        list.map((e) => ({
          topicFilter: e.spec.filter,
          qos: e.spec.qos,
          ...(e.spec.nl ? { nl: true } : {}),
          ...(e.spec.rap ? { rap: true } : {}),
          ...(e.spec.rh ? { rh: e.spec.rh } : {}),
          ...(useIds ? { subscriptionIdentifier: e.id } : {}),
        })),
      );
      list.forEach((e, i) => {
        const code = codes[i] ?? 0x80;
        e.granted = code;
        for (const h of e.handlers.values()) h.onSubscribed?.(e.spec.filter, code);
        if (isFailure(code)) this.emit('warn', `subscribe to "${e.spec.filter}" refused: ${reasonText(code)}`);
      });
    } catch (err) {
      // connection lost meanwhile: subscriptions are sent again on reconnect
      if (this.connection.connected) this.emit('warn', `subscribe failed: ${(err as Error).message}`);
    }
  }

  private route(m: IncomingMessage): void {
    const sid = m.properties.subscriptionIdentifier;
    if (typeof sid === 'number') {
      // fast path: one identifier, one handler (no de-duplication needed)
      const e = this.byId.get(sid);
      if (!e || !topicMatches(e.match, m.topic)) return;
      if (e.handlers.size === 1) {
        for (const h of e.handlers.values()) {
          try {
            h.onMessage(m);
          } catch (err) {
            this.emit('warn', `message handler failed: ${(err as Error).message}`);
          }
        }
        return;
      }
    }
    const ids = sid === undefined ? [] : Array.isArray(sid) ? sid : [sid];
    const seen = new Set<SubscriptionHandler>();
    const deliver = (e: Entry): void => {
      for (const h of e.handlers.values()) {
        if (seen.has(h)) continue;
        seen.add(h);
        try {
          h.onMessage(m);
        } catch (err) {
          this.emit('warn', `message handler failed: ${(err as Error).message}`);
        }
      }
    };
    if (ids.length) {
      for (const id of ids) {
        const e = this.byId.get(id);
        // the topic check guards against identifiers left in a persistent session by an earlier run
        if (e && topicMatches(e.match, m.topic)) deliver(e);
      }
      return;
    }
    // Broker without subscription identifiers (or MQTT 3.1.1): match our filters locally.
    for (const e of this.entries.values()) {
      if (topicMatches(e.match, m.topic)) deliver(e);
    }
  }

  // ---------------------------------------------------------------- connect / publish

  private async onConnect(): Promise<void> {
    this.ready = false;
    // restore subscriptions first, so that messages flushed from the offline queue reach our own subscribers
    await this.sendSubscribe([...this.entries.values()]);
    if (!this.connection.connected) return;
    if (this.opts.birth) {
      this.connection.publish(this.opts.birth).catch((e: Error) => this.emit('warn', `birth message: ${e.message}`));
    }
    this.ready = true;
    this.flush();
    this.setStatus({ state: 'connected' });
  }

  private flush(): void {
    while (this.queue.length && this.ready && this.connection.connected) {
      const q = this.queue.shift()!;
      this.connection.publish(q.msg).then(q.resolve, (e: Error) => {
        if (e instanceof NotConnectedError && !this.closed) {
          this.queue.unshift(q); // back to the head (in order), sent on the next connect
          this.queue.sort((a, b) => a.seq - b.seq);
          this.setStatus({});
        } else q.reject(e);
      });
    }
    this.setStatus({});
  }

  /** Throws MessageError when the message can never be sent to this broker. */
  check(msg: OutgoingMessage): void {
    const perr = propertiesError(msg.properties); // whatever the broker (also while offline, before queueing)
    if (perr) throw new MessageError(perr);
    const caps = this.connection.caps;
    if (!caps) return;
    if (msg.qos > caps.maximumQoS) {
      throw new MessageError(`QoS ${msg.qos} is not supported by the broker (Maximum QoS ${caps.maximumQoS}; ${reasonText(0x9b)})`);
    }
    if (msg.retain && !caps.retainAvailable) throw new MessageError(`the broker does not support retained messages (${reasonText(0x9a)})`);
    const max = caps.maximumPacketSize;
    // the exact size (an encoding) only for messages that come near the limit
    if (max && roughSize(msg) > max - 1024) {
      const size = packetSize(msg, caps.protocolVersion);
      if (size > max) {
        throw new MessageError(
          `message is ${size} bytes, larger than the broker's Maximum Packet Size of ${max} bytes (${reasonText(0x95)})`,
        );
      }
    }
  }

  /**
   * Publish. Resolves when the broker acknowledged (QoS 1/2) or the message was written (QoS 0).
   * While disconnected: QoS 1/2 wait in the offline queue (rejects with QueueFullError when full),
   * QoS 0 is dropped and counted (rejects with OfflineDropError).
   */
  publish(msg: OutgoingMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    try {
      this.check(msg);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.connected && this.queue.length === 0) {
      return this.connection.publish(msg).catch((e: Error) => {
        // lost the connection just now: treat like any message published while offline
        if (e instanceof NotConnectedError) return this.offline(msg);
        throw e;
      });
    }
    return this.offline(msg);
  }

  private offline(msg: OutgoingMessage): Promise<void> {
    if (msg.qos === 0) {
      const dropped = this._status.dropped + 1;
      this.setStatus({ dropped });
      return Promise.reject(new OfflineDropError(dropped));
    }
    if (this.queue.length >= this.opts.queueSize) return Promise.reject(new QueueFullError(this.opts.queueSize));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ seq: ++this.seq, msg, resolve, reject });
      this.setStatus({});
      if (this.connected) this.flush();
    });
  }

  /** Disconnect (close message first); queued messages are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    const pending = this.queue.splice(0);
    for (const q of pending) q.reject(new Error('connection closed before the message could be sent (offline queue discarded)'));
    await this.connection.stop(this.opts.close ? { closeMessage: this.opts.close } : {});
    for (const t of this.pendingUnsubscribe.values()) clearTimeout(t);
    this.pendingUnsubscribe.clear();
    this.entries.clear();
    this.byId.clear();
    this.setStatus({ state: 'idle' });
    this.removeAllListeners();
  }
}

/** Payload, topic and the variable-length properties: within a few bytes of the encoded size. */
function roughSize(msg: OutgoingMessage): number {
  let n = msg.payload.length + Buffer.byteLength(msg.topic) + 16;
  const p = msg.properties;
  if (!p) return n;
  if (p.contentType) n += Buffer.byteLength(p.contentType);
  if (p.responseTopic) n += Buffer.byteLength(p.responseTopic);
  if (p.correlationData) n += p.correlationData.length;
  for (const [k, v] of Object.entries(p.userProperties ?? {})) {
    for (const x of Array.isArray(v) ? v : [v]) n += 5 + Buffer.byteLength(k) + Buffer.byteLength(x);
  }
  return n;
}

function packetSize(msg: OutgoingMessage, protocolVersion: 4 | 5): number {
  const packet = {
    cmd: 'publish' as const,
    topic: msg.topic,
    payload: msg.payload,
    qos: msg.qos,
    retain: msg.retain,
    dup: false,
    messageId: msg.qos ? 1 : undefined,
    ...(protocolVersion === 5 && msg.properties ? { properties: msg.properties } : {}),
  };
  try {
    return mqttPacket.generate(packet as mqttPacket.IPublishPacket, { protocolVersion }).length;
  } catch {
    return msg.payload.length + Buffer.byteLength(msg.topic) + 4;
  }
}
