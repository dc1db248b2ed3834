/**
 * The in-process client: a session link with no socket and no packet encoding. Same
 * authentication (unless trusted), ACL, QoS, retained, expiry, $share and subscription
 * identifier semantics as a network client (MQTT 5 rules).
 */
import { EventEmitter } from 'node:events';
import type {
  AuthResult,
  BrokerMessage,
  ClientIdentity,
  InProcessClient,
  InProcessClientEvents,
  InProcessConnectOptions,
  InProcessMessage,
  InProcessPublishOptions,
  PublishProperties,
  PublishResult,
  QoS,
  Subscription,
  UserProperties,
} from './types';
import type { BrokerImpl } from './broker';
import { remainingExpiry } from './broker';
import type { Link, Session } from './session/session';
import { RC, reasonText } from './capabilities';
import { isPromise } from './hooks';
import { hasWildcard, isValidUtf8, parseFilter, validateTopicName } from './routing/topics';

export class InProcessClientImpl extends EventEmitter implements InProcessClient, Link {
  clientId = '';
  connected = false;
  sessionPresent = false;
  readonly protocolVersion = 5 as const;
  identity: ClientIdentity;
  readonly clientReceiveMaximum: number;
  readonly autoAck = true;
  private session: Session | null = null;
  private connectedAt = 0;
  /** Deliveries before the caller could attach listeners (connect() not yet returned) wait here. */
  private early: InProcessMessage[] | null = [];

  constructor(
    private readonly broker: BrokerImpl,
    private readonly opts: InProcessConnectOptions,
    _seq: number,
  ) {
    super();
    this.clientReceiveMaximum = opts.receiveMaximum ?? 65535;
    this.identity = { clientId: '', protocolVersion: 5, listener: 'inprocess' };
    if (opts.username !== undefined) this.identity.username = opts.username;
  }

  info(): { connectedAt: number; keepAlive: number; cleanStart: boolean } {
    return { connectedAt: this.connectedAt, keepAlive: 0, cleanStart: this.opts.cleanStart !== false };
  }

  async connect(): Promise<void> {
    const b = this.broker;
    const o = this.opts;
    this.clientId = o.clientId ? o.clientId : b.assignClientId();
    this.identity.clientId = this.clientId;
    if (!o.trusted) {
      const req = { ...this.identity, password: o.password === undefined ? undefined : Buffer.isBuffer(o.password) ? o.password : Buffer.from(o.password) };
      let r: AuthResult | undefined;
      try {
        const a = b.hooks.authenticate(req);
        r = isPromise<AuthResult | undefined>(a) ? await a : a;
      } catch {
        r = { reasonCode: RC.UNSPECIFIED_ERROR };
      }
      if (r && r.reasonCode !== 0) {
        b.emit('authFailed', { clientId: this.clientId, username: o.username, reasonCode: r.reasonCode });
        const err = new Error(`connection refused: ${r.reasonString ?? reasonText(r.reasonCode)}`) as Error & { reasonCode: number };
        err.reasonCode = r.reasonCode;
        throw err;
      }
    }
    if (b.closing) throw new Error('broker is closing');
    let will: { message: BrokerMessage; delayInterval: number } | null = null;
    if (o.will) {
      if (validateTopicName(o.will.topic, b.limits)) throw new Error(`invalid will topic "${o.will.topic}"`);
      const { willDelayInterval, ...wp } = o.will.properties ?? {};
      const message: BrokerMessage = {
        topic: o.will.topic,
        payload: typeof o.will.payload === 'string' ? Buffer.from(o.will.payload) : o.will.payload,
        qos: o.will.qos ?? 0,
        retain: o.will.retain ?? false,
        origin: this.clientId,
      };
      delete wp.topicAlias;
      delete wp.subscriptionIdentifier;
      if (Object.keys(wp).length) message.properties = wp;
      will = { message, delayInterval: willDelayInterval ?? 0 };
    }
    const cleanStart = o.cleanStart !== false;
    const expiry = Math.min(o.sessionExpiryInterval ?? 0, b.limits.maxSessionExpiryInterval);
    const { session, sessionPresent } = b.openSession(this.clientId, this, cleanStart, expiry, o.username);
    this.session = session;
    session.will = will;
    this.sessionPresent = sessionPresent;
    this.connected = true;
    this.connectedAt = Date.now();
    b.emit('clientConnected', {
      ...this.identity,
      connectedAt: this.connectedAt,
      keepAlive: 0,
      cleanStart,
      sessionExpiryInterval: expiry,
      subscriptions: [...session.subs.values()],
      inflight: session.inflightCount,
      queued: session.queuedCount,
    });
    b.resume(session);
    // hand the queued and early messages over once the caller has had its turn to add listeners
    setImmediate(() => this.flushEarly());
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = null;
    if (!early) return;
    for (const m of early) {
      if (!this.connected) break;
      this.emitMessage(m);
    }
  }

  private emitMessage(m: InProcessMessage): void {
    try {
      this.emit('message', m);
    } catch (e) {
      this.broker.emit('clientError', { clientId: this.clientId, error: e as Error });
    }
  }

  // ------------------------------------------------------------------ Link

  writable(): boolean {
    return this.connected;
  }

  sendPublish(msg: BrokerMessage, qos: QoS, _messageId: number, _dup: boolean, subIds: number[] | undefined): boolean {
    if (!this.connected) return false;
    let properties: PublishProperties = {};
    if (msg.properties) {
      properties = { ...msg.properties };
      if (properties.messageExpiryInterval !== undefined) properties.messageExpiryInterval = remainingExpiry(msg, Date.now());
    }
    if (subIds) properties.subscriptionIdentifier = subIds.length === 1 ? subIds[0] : subIds.slice();
    const m: InProcessMessage = { topic: msg.topic, payload: msg.payload, qos, retain: msg.retain, properties };
    if (this.early !== null) {
      if (this.listenerCount('message') > 0) this.flushEarly();
    }
    if (this.early !== null) {
      if (this.early.length >= Math.max(1, this.broker.limits.maxQueued)) return false;
      this.early.push(m);
      return true;
    }
    this.emitMessage(m);
    return true;
  }

  pressure(): boolean {
    return false;
  }

  sendPubrel(): void {
    // in-process deliveries complete synchronously
  }

  close(reasonCode: number, reasonString?: string): void {
    if (!this.connected) return;
    this.connected = false;
    const s = this.session;
    if (s && s.link === this) this.broker.detach(s, true);
    this.broker.emit('clientDisconnected', { clientId: this.clientId, username: this.opts.username, reasonCode, reason: reasonText(reasonCode) });
    this.safeEmit('disconnect', { reasonCode, reasonString: reasonString ?? reasonText(reasonCode) });
    this.safeEmit('close');
  }

  /** Emit to user listeners; their exceptions never reach the broker. */
  private safeEmit(ev: string, ...args: unknown[]): void {
    try {
      this.emit(ev, ...args);
    } catch (e) {
      this.broker.emit('clientError', { clientId: this.clientId, error: e as Error });
    }
  }

  // ------------------------------------------------------------------ API

  async publish(topic: string, payload: Buffer | string, opts: InProcessPublishOptions = {}): Promise<PublishResult> {
    const b = this.broker;
    if (!this.connected) return { reasonCode: RC.UNSPECIFIED_ERROR, reasonString: 'not connected' };
    if (validateTopicName(topic, b.limits)) return { reasonCode: RC.TOPIC_NAME_INVALID, reasonString: `invalid topic name "${topic}"` };
    const qos = opts.qos ?? 0;
    if (qos > b.limits.maximumQoS) return { reasonCode: RC.QOS_NOT_SUPPORTED, reasonString: 'QoS not supported' };
    if (opts.retain && !b.limits.retainAvailable) return { reasonCode: RC.RETAIN_NOT_SUPPORTED, reasonString: 'retain not supported' };
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const msg: BrokerMessage = { topic, payload: buf, qos, retain: opts.retain === true, origin: this.clientId };
    if (opts.properties) {
      const p: PublishProperties = { ...opts.properties };
      delete p.topicAlias;
      delete p.subscriptionIdentifier;
      if (p.payloadFormatIndicator && !isValidUtf8(buf)) return { reasonCode: RC.PAYLOAD_FORMAT_INVALID, reasonString: 'payload is not valid UTF-8' };
      // A property that no MQTT packet can carry (strings and binary data have a 2-byte length,
      // section 1.5.4 / 1.5.6) would be undeliverable to every network subscriber: refuse it here.
      const tooLong = overlongProperty(p);
      if (tooLong) return { reasonCode: RC.IMPLEMENTATION_SPECIFIC_ERROR, reasonString: `${tooLong} is longer than the 65535 bytes MQTT can carry` };
      if (p.responseTopic !== undefined && validateTopicName(p.responseTopic, b.limits)) {
        return { reasonCode: RC.TOPIC_NAME_INVALID, reasonString: 'invalid response topic' };
      }
      if (Object.keys(p).length) msg.properties = p;
      if (p.messageExpiryInterval !== undefined) msg.receivedAt = Date.now();
    }
    if (b.hooks.hasPublish) {
      const a = b.hooks.authorizePublish(this.identity, msg);
      const rc = isPromise<number>(a) ? await a : a;
      if (rc !== 0) {
        b.countDrop(this.clientId, topic, 'publish not authorized');
        return { reasonCode: rc, reasonString: 'not authorized' };
      }
    }
    if (!this.connected) return { reasonCode: RC.UNSPECIFIED_ERROR, reasonString: 'not connected' };
    let n: number;
    if (qos === 0 && !msg.retain) n = b.acceptPublish(msg, this.identity);
    else {
      // resolve once the message is durable (stored for persistent sessions / as retained)
      const r = b.acceptDurably(msg, this.identity);
      n = r.n;
      if (r.ops.length) await Promise.all(r.ops);
    }
    return n === 0 ? { reasonCode: RC.NO_MATCHING_SUBSCRIBERS, reasonString: 'no matching subscribers' } : { reasonCode: 0 };
  }

  async subscribe(subs: Subscription[], _properties?: { userProperties?: UserProperties }): Promise<number[]> {
    const b = this.broker;
    const s = this.session;
    if (!this.connected || !s) throw new Error('not connected');
    const codes: number[] = [];
    const accepted: Array<{ sub: Subscription; filter: string; shared: boolean } | null> = [];
    for (const req of subs) {
      const pf = parseFilter(req.topicFilter, b.limits);
      if (typeof pf === 'number') {
        codes.push(pf);
        accepted.push(null);
        continue;
      }
      if (pf.group !== undefined && (!b.limits.sharedSubscriptionAvailable || req.nl)) {
        codes.push(req.nl ? RC.PROTOCOL_ERROR : RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED);
        accepted.push(null);
        continue;
      }
      if (!b.limits.wildcardSubscriptionAvailable && hasWildcard(pf.filter)) {
        codes.push(RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED);
        accepted.push(null);
        continue;
      }
      if (req.subscriptionIdentifier !== undefined && (!b.limits.subscriptionIdentifiersAvailable || req.subscriptionIdentifier < 1 || req.subscriptionIdentifier > 268435455)) {
        codes.push(b.limits.subscriptionIdentifiersAvailable ? RC.PROTOCOL_ERROR : RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED);
        accepted.push(null);
        continue;
      }
      const sub: Subscription = { ...req, qos: Math.min(req.qos ?? 0, b.limits.maximumQoS) as QoS };
      if (b.hooks.hasSubscribe) {
        const a = b.hooks.authorizeSubscribe(this.identity, sub);
        const rc = isPromise<number>(a) ? await a : a;
        if (rc !== 0) {
          codes.push(rc);
          accepted.push(null);
          continue;
        }
      }
      codes.push(sub.qos);
      accepted.push({ sub, filter: pf.filter, shared: pf.group !== undefined });
    }
    if (!this.connected) throw new Error('not connected');
    const added: Subscription[] = [];
    const retained: Array<{ sub: Subscription; filter: string }> = [];
    for (const a of accepted) {
      if (!a) continue;
      const existed = b.addSubscription(s, a.sub);
      added.push(a.sub);
      const rh = a.sub.rh ?? 0;
      if (!a.shared && (rh === 0 || (rh === 1 && !existed))) retained.push(a);
    }
    if (added.length) {
      if (s.persistent) b.saveSession(s);
      b.emit('subscribed', { clientId: this.clientId, subscriptions: added });
    }
    for (const r of retained) b.sendRetained(s, r.sub, r.filter);
    return codes;
  }

  async unsubscribe(topicFilters: string[]): Promise<number[]> {
    const b = this.broker;
    const s = this.session;
    if (!this.connected || !s) throw new Error('not connected');
    const removed: string[] = [];
    const codes = topicFilters.map((f) => {
      if (b.removeSubscription(s, f)) {
        removed.push(f);
        return RC.SUCCESS;
      }
      return RC.NO_SUBSCRIPTION_EXISTED;
    });
    if (removed.length) {
      if (s.persistent) b.saveSession(s);
      b.emit('unsubscribed', { clientId: this.clientId, topicFilters: removed });
    }
    return codes;
  }

  async end(opts: { reasonCode?: number; sessionExpiryInterval?: number } = {}): Promise<void> {
    if (!this.connected) return;
    const s = this.session!;
    const rc = opts.reasonCode ?? 0;
    if (opts.sessionExpiryInterval !== undefined) {
      // 3.14.2.2.2: not from 0 to non-zero
      if (s.connectExpiry === 0 && opts.sessionExpiryInterval !== 0) throw new Error('session expiry interval was 0 at connect; it cannot be changed');
      s.expiryInterval = Math.min(opts.sessionExpiryInterval, this.broker.limits.maxSessionExpiryInterval);
    }
    this.connected = false;
    if (s.link === this) this.broker.detach(s, rc !== RC.NORMAL_DISCONNECT);
    this.broker.emit('clientDisconnected', { clientId: this.clientId, username: this.opts.username, reasonCode: rc, reason: reasonText(rc) });
    this.safeEmit('close');
  }

  override on<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this {
    super.on(ev, fn as (...a: unknown[]) => void);
    // early messages follow the caller's current synchronous block (e.g. its own 'connect' event)
    if (ev === 'message' && this.early !== null && this.early.length > 0) queueMicrotask(() => this.flushEarly());
    return this;
  }
  override once<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this {
    super.once(ev, fn as (...a: unknown[]) => void);
    if (ev === 'message' && this.early !== null && this.early.length > 0) queueMicrotask(() => this.flushEarly());
    return this;
  }
  override off<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this {
    return super.off(ev, fn as (...a: unknown[]) => void);
  }
}

/** Name of the first PUBLISH property longer than MQTT's 2-byte length prefix allows, or undefined. */
function overlongProperty(p: PublishProperties): string | undefined {
  const MAX = 0xffff;
  if (p.correlationData !== undefined && p.correlationData.length > MAX) return 'correlation data';
  if (p.contentType !== undefined && Buffer.byteLength(p.contentType) > MAX) return 'content type';
  if (p.responseTopic !== undefined && Buffer.byteLength(p.responseTopic) > MAX) return 'response topic';
  for (const [k, v] of Object.entries(p.userProperties ?? {})) {
    if (Buffer.byteLength(k) > MAX) return 'a user property name';
    for (const x of Array.isArray(v) ? v : [v]) if (Buffer.byteLength(x) > MAX) return `user property "${k.slice(0, 40)}"`;
  }
  return undefined;
}
