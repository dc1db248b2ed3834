/**
 * The broker: lifecycle, listeners, sessions, routing and delivery. Packet handling lives in
 * handlers/ (one file per packet type), the wire side in connection.ts.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type {
  AclRule,
  Broker,
  BrokerEvents,
  BrokerHooks,
  BrokerLimits,
  BrokerMessage,
  BrokerOptions,
  BrokerStats,
  BrokerStore,
  ClientIdentity,
  ClientInfo,
  InProcessClient,
  InProcessConnectOptions,
  ListenerConfig,
  ListenerInfo,
  PublishProperties,
  QoS,
  StoredSession,
  Subscription,
  UserConfig,
} from './types';
import { RC, resolveLimits } from './capabilities';
import { HookChain, isPromise } from './hooks';
import { TopicTrie, type ShareGroup } from './routing/trie';
import { parseFilter, validateTopicName } from './routing/topics';
import { NO_SUBS, Session, type Link, type SessionMessage } from './session/session';
import { Deque } from './session/queue';
import { Connection } from './connection';
import { createSecurityHooks } from './security';
import { MemoryStore } from './store';
import { startListener, type ListenerHandle } from './transport';
import { SysPublisher } from './sys';
import { InProcessClientImpl } from './inprocess';

export const BROKER_VERSION = 'mqtt5-hub 0.1.0';

/** QoS 0 deliveries to a client are dropped (and counted) while its socket buffers more than this. */
export const QOS0_BACKPRESSURE_BYTES = 4 * 1024 * 1024;

let brokerSeq = 0;

interface RouteCtx {
  gen: number;
  origin: string | undefined;
  sessions: Session[];
  qos: number[];
  subIds: Array<number[] | undefined>;
  rap: boolean[];
  groups: ShareGroup<Session>[];
}

export class BrokerImpl implements Broker {
  /** Events go through a private emitter: Broker's addListener/removeListener/listeners are about MQTT listeners. */
  private readonly ee = new EventEmitter();
  readonly id: string;
  readonly options: BrokerOptions;
  readonly limits: BrokerLimits;
  readonly trie = new TopicTrie<Session>();
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly hooks = new HookChain();
  readonly store: BrokerStore;
  readonly startedAt = Date.now();
  private securityHooks: BrokerHooks | null = null;
  private readonly userHooks: BrokerHooks[] = [];
  private readonly listenerHandles = new Map<string, ListenerHandle>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sys: SysPublisher | null = null;
  private routeGen = 0;
  /** Bumped per routing batch; connections cache encoded QoS 0 PUBLISH bytes per (message, gen). */
  encodeGen = 0;
  closing = false;
  closed = false;
  /** Set by deliver() when a recipient link is congested; read by the PUBLISH handler (flow control). */
  pressureTarget: Link | null = null;
  private readonly readyPromise: Promise<void>;
  ready = false;
  private inprocSeq = 0;
  private idSeq = 0;

  // statistics
  messagesReceived = 0;
  messagesSent = 0;
  messagesDropped = 0;
  bytesReceived = 0;
  bytesSent = 0;
  clientsMaximum = 0;
  connectedCount = 0;

  constructor(options: BrokerOptions = {}) {
    this.ee.setMaxListeners(0);
    this.options = options;
    this.id = options.id ?? `mqtt5-hub-${process.pid}-${++brokerSeq}`;
    this.limits = resolveLimits(options.limits);
    this.store = safeStore(options.store ?? new MemoryStore());
    if (options.hooks) this.userHooks.push(options.hooks);
    this.applySecurity({ users: options.users, allowAnonymous: options.allowAnonymous, acl: options.acl });
    this.readyPromise = this.open();
    // errors surface through listen()/connectInProcess(); never as an unhandled rejection
    this.readyPromise.catch(() => undefined);
  }

  // ------------------------------------------------------------------ lifecycle

  private async open(): Promise<void> {
    await this.store.open();
    await this.restore();
    this.ready = true;
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    const interval = this.options.sysInterval ?? 10;
    if (interval > 0) {
      this.sys = new SysPublisher(this, interval);
      this.sys.start();
    }
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  /** Restore retained messages and persistent sessions (with their queues) from the store. */
  private async restore(): Promise<void> {
    const now = Date.now();
    for (const m of await this.store.loadRetained()) {
      if (isExpired(m, now)) continue;
      this.trie.setRetained(m);
    }
    for (const st of await this.store.loadSessions()) {
      const expiry = st.expiryInterval;
      const gone = st.disconnectedAt !== undefined && expiry !== 0xffffffff && st.disconnectedAt + expiry * 1000 <= now;
      if (gone || expiry === 0) {
        await this.store.deleteSession(st.clientId);
        continue;
      }
      const s = new Session(st.clientId);
      s.username = st.username;
      s.protocolVersion = st.protocolVersion;
      s.expiryInterval = expiry;
      s.connectExpiry = expiry;
      s.disconnectedAt = st.disconnectedAt ?? now;
      for (const sub of st.subscriptions) this.addSubscription(s, sub);
      if (st.inboundQos2?.length) s.inboundQos2 = new Set(st.inboundQos2);
      const q = await this.store.loadQueue(st.clientId);
      q.sort((a, b) => a.seq - b.seq);
      for (const qm of q) {
        s.seq = Math.max(s.seq, qm.seq);
        if (qm.messageId !== undefined) (s.inflight ??= new Map()).set(qm.messageId, qm);
        else this.pushQueue(s, qm);
      }
      this.sessions.set(s.clientId, s);
      if (st.will) {
        s.will = { message: st.will.message, delayInterval: st.will.delayInterval };
        this.scheduleWill(s, Math.max(0, st.will.dueAt - now));
      }
      this.scheduleExpiry(s, now);
    }
  }

  private listenPromise: Promise<ListenerInfo[]> | null = null;

  /** Idempotent: a second call returns the first call's listeners. */
  listen(): Promise<ListenerInfo[]> {
    if (this.listenPromise === null) {
      this.listenPromise = this.doListen();
      // a failed listen may be retried
      this.listenPromise.catch(() => {
        this.listenPromise = null;
      });
    }
    return this.listenPromise;
  }

  private async doListen(): Promise<ListenerInfo[]> {
    await this.readyPromise;
    const infos: ListenerInfo[] = [];
    try {
      for (const cfg of this.options.listeners ?? []) infos.push(await this.addListener(cfg));
    } catch (e) {
      for (const info of infos) await this.removeListener(info.id).catch(() => undefined);
      throw e;
    }
    return infos;
  }

  async addListener(cfg: ListenerConfig): Promise<ListenerInfo> {
    await this.readyPromise;
    if (this.closing) throw new Error('broker is closing');
    const id = cfg.id ?? `${cfg.type}-${++this.idSeq}`;
    if (this.listenerHandles.has(id)) throw new Error(`listener id "${id}" is already in use`);
    let handle: ListenerHandle;
    try {
      handle = await startListener(this, cfg, id);
    } catch (e) {
      this.emit('listenerError', { listener: cfg, error: e as Error });
      throw e;
    }
    this.listenerHandles.set(id, handle);
    this.emit('listening', handle.info);
    return handle.info;
  }

  async removeListener(id: string): Promise<void> {
    const h = this.listenerHandles.get(id);
    if (!h) return;
    this.listenerHandles.delete(id);
    const closing = h.close();
    for (const c of [...this.connections]) if (c.listenerId === id) c.close(RC.SERVER_SHUTTING_DOWN);
    await closing;
  }

  listeners(): ListenerInfo[] {
    return [...this.listenerHandles.values()].map((h) => h.info);
  }

  handleStream(stream: Duplex, meta: { listener?: string; remoteAddress?: string; certificateSubject?: string } = {}): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    const c = new Connection(this, stream, meta.listener ?? 'stream', meta.remoteAddress, meta.certificateSubject);
    this.connections.add(c);
  }

  private closingPromise: Promise<void> | null = null;

  /** Idempotent: a second call waits for the first. */
  close(opts: { timeoutMs?: number; reasonCode?: number } = {}): Promise<void> {
    return (this.closingPromise ??= this.doClose(opts));
  }

  private async doClose(opts: { timeoutMs?: number; reasonCode?: number }): Promise<void> {
    if (this.closed) return;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const rc = opts.reasonCode ?? RC.SERVER_SHUTTING_DOWN;
    const deadline = Date.now() + timeoutMs;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sys?.stop();
    await this.readyPromise.catch(() => undefined);
    const listenerClosing = [...this.listenerHandles.keys()].map((id) => {
      const h = this.listenerHandles.get(id)!;
      this.listenerHandles.delete(id);
      return h.close();
    });
    for (const s of this.sessions.values()) if (s.link) s.link.close(rc);
    for (const c of [...this.connections]) c.close(rc);
    const left = (): number => Math.max(0, deadline - Date.now());
    await withTimeout(
      (async () => {
        await waitUntil(() => this.connections.size === 0, Math.max(0, left() - 200));
        for (const c of [...this.connections]) c.destroy();
        await Promise.all(listenerClosing);
      })(),
      Math.max(0, left() - 100),
    );
    for (const c of [...this.connections]) c.destroy();
    for (const s of this.sessions.values()) s.clearTimers();
    this.closed = true;
    await withTimeout(this.store.close().catch(() => undefined), left());
    this.emit('closed');
  }

  // ------------------------------------------------------------------ security

  setSecurity(opts: { users?: UserConfig[]; allowAnonymous?: boolean; acl?: AclRule[] }): void {
    this.applySecurity(opts);
  }

  private applySecurity(opts: { users?: UserConfig[]; allowAnonymous?: boolean; acl?: AclRule[] }): void {
    const needed = (opts.users && opts.users.length > 0) || (opts.acl && opts.acl.length > 0) || opts.allowAnonymous === false;
    this.securityHooks = needed ? createSecurityHooks({ users: opts.users, allowAnonymous: opts.allowAnonymous, acl: opts.acl }) : null;
    this.rebuildHooks();
  }

  /** Add a hook set after the configured ones (chained; see hooks.ts). */
  addHooks(h: BrokerHooks): void {
    this.userHooks.push(h);
    this.rebuildHooks();
  }

  private rebuildHooks(): void {
    this.hooks.setAll(this.securityHooks ? [this.securityHooks, ...this.userHooks] : [...this.userHooks]);
    this.hooks.setSecurity(this.securityHooks);
  }

  // ------------------------------------------------------------------ sessions

  /** Attach `link` to the session of `clientId`: takeover, clean start, resume. */
  openSession(
    clientId: string,
    link: Link,
    cleanStart: boolean,
    expiryInterval: number,
    username: string | undefined,
  ): { session: Session; sessionPresent: boolean } {
    let s = this.sessions.get(clientId);
    if (s && s.link && s.link !== link) {
      // [MQTT-3.1.4-3] the existing connection of this client id is closed: DISCONNECT 0x8E.
      s.link.close(RC.SESSION_TAKEN_OVER);
      if (s.link) this.detach(s, true);
      s = this.sessions.get(clientId);
    }
    if (s && cleanStart) {
      // [MQTT-3.1.2-4] Clean Start = 1 discards any existing session.
      this.destroySession(s, false);
      s = undefined;
    }
    let sessionPresent = false;
    if (s) {
      sessionPresent = true; // [MQTT-3.2.2-3]
      // [MQTT-3.1.3-9] a pending delayed will is cancelled when the client reconnects.
      s.clearTimers();
      s.will = null;
    } else {
      s = new Session(clientId);
      this.sessions.set(clientId, s);
    }
    s.username = username;
    s.protocolVersion = link.protocolVersion;
    s.expiryInterval = expiryInterval;
    s.connectExpiry = expiryInterval;
    s.disconnectedAt = undefined;
    s.link = link;
    this.connectedCount++;
    if (this.connectedCount > this.clientsMaximum) this.clientsMaximum = this.connectedCount;
    return { session: s, sessionPresent };
  }

  /** Resend inflight messages (DUP) and drain the queue once the CONNACK is out, [MQTT-4.4.0-1]. */
  resume(s: Session): void {
    const link = s.link;
    if (!link) return;
    if (s.inflight && s.inflight.size) {
      for (const qm of [...s.inflight.values()]) {
        if (link.autoAck) {
          s.inflight.delete(qm.messageId!);
          if (qm.state !== 'pubrel') link.sendPublish(qm.message, qm.qos, 0, false, qm.subscriptionIdentifiers);
          this.messagesSent++;
          if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
        } else if (qm.state === 'pubrel') link.sendPubrel(qm.messageId!);
        else {
          link.sendPublish(qm.message, qm.qos, qm.messageId!, true, qm.subscriptionIdentifiers);
          this.messagesSent++;
        }
      }
    }
    this.drain(s);
    if (s.persistent) this.saveSession(s);
  }

  /** The link of `s` went away (connection closed). `publishWill`: not after DISCONNECT 0x00. */
  detach(s: Session, publishWill: boolean): void {
    if (!s.link) return;
    s.link = null;
    this.connectedCount--;
    if (this.closing) {
      // shutdown: a persistent session keeps its will, stored with its due time, so that it is
      // published after a restart if the client does not come back (3.1.2.5: MAY defer to restart)
      if (!publishWill) s.will = null;
      if (s.persistent) {
        s.disconnectedAt = Date.now();
        this.saveSession(s);
      } else {
        // the session ends now: its will goes out (to persistent sessions / whoever is still here)
        const w = s.will;
        this.destroySession(s, false);
        if (w) this.publishWill(s, w.message);
      }
      return;
    }
    this.redistributeShared(s);
    const will = publishWill ? s.will : null;
    if (!publishWill) s.will = null;
    if (!s.persistent) {
      // the session ends with the connection: a will (if any) goes out now [MQTT-3.1.2-8]
      this.destroySession(s, false);
      if (will) this.publishWill(s, will.message);
      return;
    }
    s.disconnectedAt = Date.now();
    if (will) {
      const delay = Math.min(will.delayInterval, s.expiryInterval);
      if (delay <= 0) {
        s.will = null;
        this.publishWill(s, will.message);
      } else this.scheduleWill(s, delay * 1000);
    }
    this.scheduleExpiry(s, s.disconnectedAt);
    this.saveSession(s);
  }

  private scheduleWill(s: Session, ms: number): void {
    if (s.willTimer) clearTimeout(s.willTimer);
    s.willTimer = setTimeout(() => {
      s.willTimer = null;
      const w = s.will;
      s.will = null;
      if (w && !s.link) {
        this.publishWill(s, w.message);
        if (s.persistent && !s.destroyed) this.saveSession(s);
      }
    }, Math.min(ms, 0x7fffffff));
    s.willTimer.unref();
  }

  private scheduleExpiry(s: Session, from: number): void {
    if (s.expiryInterval === 0xffffffff) return;
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    const ms = Math.max(0, from + s.expiryInterval * 1000 - Date.now());
    s.expiryTimer = setTimeout(() => {
      s.expiryTimer = null;
      if (s.link) return;
      // [MQTT-3.1.3-9] a will still pending is sent when the session ends.
      const w = s.will;
      this.destroySession(s, true);
      if (w) this.publishWill(s, w.message);
    }, Math.min(ms, 0x7fffffff));
    s.expiryTimer.unref();
  }

  publishWill(s: Session, msg: BrokerMessage): void {
    const client = s.identity();
    const willMsg: BrokerMessage = { ...msg, receivedAt: Date.now(), origin: s.clientId };
    const go = (rc: number): void => {
      if (rc === 0) this.acceptPublish(willMsg, client);
    };
    if (!this.hooks.hasPublish) return go(0);
    const r = this.hooks.authorizePublish(client, willMsg);
    if (isPromise<number>(r)) r.then(go, () => undefined);
    else go(r);
  }

  /** Remove a session and its subscriptions (session end or clean start). */
  destroySession(s: Session, _expired: boolean): void {
    s.destroyed = true;
    s.clearTimers();
    for (const sub of s.subs.values()) this.removeFromTrie(s, sub.topicFilter);
    if (s.subs !== NO_SUBS) s.subs.clear();
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId);
    const hadPersistence = s.persistent || s.connectExpiry > 0;
    const lost = s.queuedCount + s.inflightCount;
    if (lost && !s.link) {
      // queued messages that die with the session are counted
      this.messagesDropped += s.queuedCount;
    }
    s.inflight = null;
    s.queue = null;
    if (hadPersistence) this.storeOp(this.store.deleteSession(s.clientId));
  }

  saveSession(s: Session): void {
    if (s.destroyed || !s.persistent) return;
    const st: StoredSession = {
      clientId: s.clientId,
      protocolVersion: s.protocolVersion,
      username: s.username,
      expiryInterval: s.expiryInterval,
      disconnectedAt: s.link ? undefined : s.disconnectedAt,
      subscriptions: [...s.subs.values()],
      inboundQos2: s.inboundQos2 ? [...s.inboundQos2] : undefined,
    };
    if (!s.link && s.will) {
      st.will = {
        message: s.will.message,
        delayInterval: s.will.delayInterval,
        dueAt: (s.disconnectedAt ?? Date.now()) + Math.min(s.will.delayInterval, s.expiryInterval) * 1000,
      };
    }
    this.storeOp(this.store.saveSession(st));
  }

  storeOp(p: Promise<unknown>): void {
    const settled = p.catch((error: Error) => this.emit('clientError', { error: new Error(`store: ${error.message}`) }));
    if (this.collecting !== null) this.collecting.push(settled);
  }

  /**
   * Store writes issued while accepting one QoS>0 PUBLISH are collected so that its PUBACK /
   * PUBREC (or the in-process publish() promise) waits until they are durable: an acknowledged
   * message survives a crash (per the store's flush policy).
   */
  collecting: Array<Promise<unknown>> | null = null;

  /** Accept a publish and return the store writes it caused (empty when none). */
  acceptDurably(msg: BrokerMessage, client: ClientIdentity | null): { n: number; ops: Array<Promise<unknown>> } {
    const outer = this.collecting;
    const ops: Array<Promise<unknown>> = [];
    this.collecting = ops;
    try {
      return { n: this.acceptPublish(msg, client), ops };
    } finally {
      this.collecting = outer;
      if (outer !== null) outer.push(...ops);
    }
  }

  // ------------------------------------------------------------------ subscriptions

  /** Add (or replace) a subscription; returns true when it existed already. */
  addSubscription(s: Session, sub: Subscription): boolean {
    const parsed = parseFilter(sub.topicFilter, this.limits);
    if (typeof parsed === 'number') return false;
    const existed = s.subs.has(sub.topicFilter);
    (s.subs === NO_SUBS ? (s.subs = new Map()) : s.subs).set(sub.topicFilter, sub);
    if (parsed.group !== undefined) this.trie.addShared(parsed.group, parsed.filter, s, sub);
    else this.trie.add(parsed.filter, s, sub);
    return existed;
  }

  removeSubscription(s: Session, topicFilter: string): boolean {
    if (!s.subs.delete(topicFilter)) return false;
    this.removeFromTrie(s, topicFilter);
    return true;
  }

  private removeFromTrie(s: Session, topicFilter: string): void {
    const parsed = parseFilter(topicFilter, this.limits);
    if (typeof parsed === 'number') return;
    if (parsed.group !== undefined) {
      this.trie.removeShared(parsed.group, parsed.filter, s);
      this.redistributeShared(s, topicFilter);
    } else this.trie.remove(parsed.filter, s);
  }

  /** Retained messages for a new subscription (Retain Handling decided by the caller). */
  sendRetained(s: Session, sub: Subscription, filter: string): void {
    const now = Date.now();
    const msgs = this.trie.matchRetained(filter);
    if (msgs.length === 0) return;
    this.encodeGen++;
    const ids = sub.subscriptionIdentifier ? [sub.subscriptionIdentifier] : undefined;
    for (const m of msgs) {
      if (isExpired(m, now)) {
        this.trie.deleteRetained(m.topic);
        this.storeOp(this.store.storeRetained({ ...m, payload: Buffer.alloc(0) }));
        continue;
      }
      // 3.3.1.3: retained messages sent because of a new subscription carry RETAIN = 1.
      const qos = (m.qos < sub.qos ? m.qos : sub.qos) as QoS;
      this.deliver(s, m.retain ? m : { ...m, retain: true }, qos, ids, undefined);
    }
  }

  // ------------------------------------------------------------------ publishing

  /**
   * A PUBLISH was accepted (authorized): store retained, emit 'published', route. Returns the
   * number of subscriptions it was delivered to.
   */
  acceptPublish(msg: BrokerMessage, client: ClientIdentity | null): number {
    this.messagesReceived++;
    if (msg.retain) {
      this.trie.setRetained(msg);
      if (msg.topic.charCodeAt(0) !== 36 || !msg.topic.startsWith('$SYS/')) this.storeOp(this.store.storeRetained(msg));
    }
    if (this.listenerCount('published') > 0) this.emit('published', msg, client);
    return this.route(msg);
  }

  /** Deliver `msg` to every matching subscription. */
  route(msg: BrokerMessage): number {
    const m = this.trie.matchAll(msg.topic);
    const gen = ++this.routeGen;
    this.encodeGen++;
    // scratch arrays are reused unless this is a nested route (an in-process client publishing
    // from its message handler)
    const ctx: RouteCtx = this.routeDepth === 0 ? this.rootCtx : { gen, origin: undefined, sessions: [], qos: [], subIds: [], rap: [], groups: [] };
    ctx.sessions.length = ctx.qos.length = ctx.subIds.length = ctx.rap.length = 0;
    const origin = msg.origin;
    const ms = m.sessions;
    const msubs = m.subs;
    for (let k = 0; k < ms.length; k++) {
      const s = ms[k]!;
      const sub = msubs[k]!;
      // [MQTT-3.8.3-3] No Local: never back to the connection that published it.
      if (sub.nl && s.clientId === origin) continue;
      const id = sub.subscriptionIdentifier;
      if (s.gen === gen) {
        // one delivery per client, with the highest QoS and ALL matching subscription ids (3.3.4)
        const i = s.idx;
        if (sub.qos > ctx.qos[i]!) ctx.qos[i] = sub.qos;
        if (id) ctx.subIds[i] = ctx.subIds[i] ? [...ctx.subIds[i]!, id] : [id];
        if (sub.rap) ctx.rap[i] = true;
        continue;
      }
      s.gen = gen;
      s.idx = ctx.sessions.length;
      ctx.sessions.push(s);
      ctx.qos.push(sub.qos);
      ctx.subIds.push(id ? [id] : undefined);
      ctx.rap.push(sub.rap === true);
    }
    this.routeDepth++;
    try {
      return this.deliverRoute(msg, ctx, m.groups);
    } finally {
      this.routeDepth--;
    }
  }

  private routeDepth = 0;
  private readonly rootCtx: RouteCtx = { gen: 0, origin: undefined, sessions: [], qos: [], subIds: [], rap: [], groups: [] };

  private deliverRoute(msg: BrokerMessage, ctx: RouteCtx, groups: ShareGroup<Session>[]): number {
    let n = 0;
    let noRetain: BrokerMessage | null = null;
    const mq = msg.qos;
    for (let i = 0; i < ctx.sessions.length; i++) {
      const q = ctx.qos[i]!;
      // [MQTT-3.3.1-12] without Retain As Published the RETAIN flag is cleared on forwarding.
      let m = msg;
      if (msg.retain && !ctx.rap[i]) m = noRetain ??= { ...msg, retain: false };
      // [MQTT-3.8.4-8] delivered QoS = min(message QoS, granted QoS)
      if (this.deliver(ctx.sessions[i]!, m, (q < mq ? q : mq) as QoS, ctx.subIds[i], undefined)) n++;
    }
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k]!;
      const member = this.pickMember(g, mq);
      if (!member) continue;
      const sub = member.sub;
      let m = msg;
      if (msg.retain && !sub.rap) m = noRetain ??= { ...msg, retain: false };
      const q = (sub.qos < mq ? sub.qos : mq) as QoS;
      const ids = sub.subscriptionIdentifier ? [sub.subscriptionIdentifier] : undefined;
      if (this.deliver(member.session, m, q, ids, g.key)) n++;
    }
    return n;
  }

  /**
   * $share: one member per group, round-robin, skipping members that are offline or whose
   * inflight window is full; when every member is busy, the next online one queues it.
   */
  private pickMember(g: ShareGroup<Session>, qos: QoS): { session: Session; sub: Subscription } | null {
    const members = g.members;
    const len = members.length;
    if (len === 0) return null;
    let fallback: { session: Session; sub: Subscription } | null = null;
    for (let k = 0; k < len; k++) {
      const i = (g.next + k) % len;
      const m = members[i]!;
      const link = m.session.link;
      if (!link) {
        fallback ??= m;
        continue;
      }
      if (qos === 0 || link.autoAck || (m.session.inflightCount < this.window(m.session) && m.session.queuedCount === 0)) {
        if (link.writable()) {
          g.next = (i + 1) % len;
          return m;
        }
      }
      // every member busy: the online one with the shortest queue takes it (queued there)
      if (!fallback || !fallback.session.link || m.session.queuedCount < fallback.session.queuedCount) fallback = m;
    }
    if (fallback) g.next = (members.indexOf(fallback) + 1) % len;
    return fallback;
  }

  /**
   * Move a member's group messages to the group's other members: when it leaves (connection gone,
   * or unsubscribed) its queued and QoS 1 inflight ones; when it stalls (`queuedOnly`) its queued,
   * never-sent ones. QoS 2 messages already sent stay with the member ([MQTT-4.8.2-4]: completed
   * when it reconnects). The project requires that a leaving member does not lose the group's
   * messages, so this deliberately redistributes where [MQTT-4.8.2-5] would drop them.
   */
  redistributeShared(s: Session, onlyShare?: string, queuedOnly = false): number {
    // nothing queued or inflight (the common case at disconnect): nothing to hand over
    if ((queuedOnly || s.inflight === null || s.inflight.size === 0) && (s.queue === null || s.queue.length === 0)) return 0;
    const pred = (qm: SessionMessage): boolean => qm.share !== undefined && (onlyShare === undefined || qm.share === onlyShare);
    const moved: SessionMessage[] = [];
    if (s.inflight && !queuedOnly) {
      for (const [id, qm] of s.inflight) {
        if (pred(qm) && qm.qos === 1) {
          s.inflight.delete(id);
          moved.push(qm);
        }
      }
    }
    if (s.queue && s.queue.length) moved.push(...s.queue.extract(pred));
    if (moved.length === 0) return 0;
    moved.sort((a, b) => a.seq - b.seq);
    let n = 0;
    for (const qm of moved) {
      if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
      const parsed = parseFilter(qm.share!, this.limits);
      const g = typeof parsed === 'number' || parsed.group === undefined ? undefined : this.trie.getShared(parsed.group, parsed.filter);
      const others = g ? { ...g, members: g.members.filter((m) => m.session !== s) } : undefined;
      const member = others && others.members.length ? this.pickMember(others, qm.qos) : null;
      if (!member) {
        if (queuedOnly) {
          // nobody else: keep it where it was
          this.pushQueue(s, qm);
          if (s.persistent) this.storeOp(this.store.enqueue(s.clientId, [qm]));
          continue;
        }
        this.countDrop(s.clientId, qm.message.topic, 'shared subscription member left; no other member');
        continue;
      }
      if (g) g.next = others!.next;
      this.encodeGen++;
      if (this.deliver(member.session, qm.message, qm.qos, qm.subscriptionIdentifiers, qm.share)) n++;
    }
    if (s.link) this.drain(s);
    return n;
  }

  /** Outbound window: never more unacknowledged QoS>0 PUBLISHes than the client's Receive Maximum [MQTT-3.3.4-9]. */
  window(s: Session): number {
    const rm = s.link ? s.link.clientReceiveMaximum : 65535;
    return rm < this.limits.maxInflight ? rm : this.limits.maxInflight;
  }

  /** Deliver one message to one session. Returns false when dropped. */
  deliver(s: Session, msg: BrokerMessage, qos: QoS, subIds: number[] | undefined, share: string | undefined): boolean {
    if (msg.properties !== undefined && msg.properties.messageExpiryInterval !== undefined && isExpired(msg, Date.now())) {
      // [MQTT-3.3.2-5] an expired message is not delivered.
      this.countDrop(s.clientId, msg.topic, 'message expired');
      return false;
    }
    const link = s.link;
    if (this.hooks.hasRead && !this.hooks.authorizeRead(link ? link.identity : s.identity(), msg)) return false;
    if (qos === 0 || (link !== null && link.autoAck)) {
      if (link === null) return false; // QoS 0 is not queued for offline sessions
      if (!link.writable()) {
        if (this.pressureTarget === null && link.pressure()) this.pressureTarget = link;
        this.countDrop(s.clientId, msg.topic, 'client not reading (backpressure)');
        return false;
      }
      if (!link.sendPublish(msg, qos, 0, false, subIds)) {
        this.countDrop(s.clientId, msg.topic, 'packet larger than the client maximum packet size');
        return false;
      }
      this.messagesSent++;
      if (this.pressureTarget === null && link.pressure()) this.pressureTarget = link;
      return true;
    }
    if (link === null && !s.persistent) return false;
    if (link !== null && this.pressureTarget === null && link.pressure()) this.pressureTarget = link;
    const qm: SessionMessage = { seq: ++s.seq, message: msg, qos, subscriptionIdentifiers: subIds };
    if (share !== undefined) qm.share = share;
    if (link !== null && s.queuedCount === 0 && s.inflightCount < this.window(s) && link.writable()) {
      return this.sendInflight(s, qm, link, true);
    }
    return this.enqueue(s, qm);
  }

  /** Send as inflight; `fresh`: not stored yet (one enqueue with its packet id instead of enqueue + update). */
  private sendInflight(s: Session, qm: SessionMessage, link: Link, fresh = false): boolean {
    const id = s.allocMessageId();
    qm.messageId = id;
    qm.state = 'publish';
    (s.inflight ??= new Map()).set(id, qm);
    if (s.persistent) this.storeOp(fresh ? this.store.enqueue(s.clientId, [qm]) : this.store.updateQueued(s.clientId, qm));
    if (!link.sendPublish(qm.message, qm.qos, id, false, qm.subscriptionIdentifiers)) {
      // [MQTT-3.1.2-25] too large for the client: discard and behave as if delivered.
      s.inflight.delete(id);
      if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
      this.countDrop(s.clientId, qm.message.topic, 'packet larger than the client maximum packet size');
      return false;
    }
    this.messagesSent++;
    return true;
  }

  private pushQueue(s: Session, qm: SessionMessage): void {
    (s.queue ??= new Deque<SessionMessage>()).push(qm);
  }

  private enqueue(s: Session, qm: SessionMessage): boolean {
    const max = this.limits.maxQueued;
    const q = s.queue;
    if (q !== null && q.length >= max) {
      if (this.limits.queueFullPolicy === 'drop-newest' || max === 0) {
        this.countDrop(s.clientId, qm.message.topic, 'queue full');
        return false;
      }
      const old = q.shift()!;
      if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, old.seq));
      this.countDrop(s.clientId, old.message.topic, 'queue full');
    } else if (max === 0) {
      this.countDrop(s.clientId, qm.message.topic, 'queue full');
      return false;
    }
    this.pushQueue(s, qm);
    if (s.persistent) this.storeOp(this.store.enqueue(s.clientId, [qm]));
    return true;
  }

  /** Move queued messages into the inflight window while there is room. */
  drain(s: Session): void {
    const link = s.link;
    const q = s.queue;
    if (link === null || q === null || q.length === 0) return;
    const win = this.window(s);
    const now = Date.now();
    while (q.length > 0 && (link.autoAck || (s.inflightCount < win && link.writable()))) {
      const qm = q.shift()!;
      if (qm.message.properties?.messageExpiryInterval !== undefined && isExpired(qm.message, now)) {
        if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
        this.countDrop(s.clientId, qm.message.topic, 'message expired');
        continue;
      }
      if (link.autoAck) {
        if (link.sendPublish(qm.message, qm.qos, 0, false, qm.subscriptionIdentifiers)) this.messagesSent++;
        if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
        continue;
      }
      this.encodeGen++;
      this.sendInflight(s, qm, link);
    }
  }

  /** PUBACK / PUBCOMP / PUBREC(>=0x80) completed an outbound message. */
  completeOutbound(s: Session, messageId: number): boolean {
    const qm = s.inflight?.get(messageId);
    if (!qm) return false;
    s.inflight!.delete(messageId);
    if (s.persistent) this.storeOp(this.store.removeQueued(s.clientId, qm.seq));
    this.drain(s);
    return true;
  }

  countDrop(clientId: string, topic: string, reason: string): void {
    this.messagesDropped++;
    if (this.listenerCount('messageDropped') > 0) this.emit('messageDropped', { clientId, topic, reason });
  }

  /** Publish as the broker itself (no ACL). */
  async publish(msg: { topic: string; payload: Buffer | string; qos?: QoS; retain?: boolean; properties?: PublishProperties }): Promise<void> {
    await this.readyPromise;
    const rc = validateTopicName(msg.topic, this.limits);
    if (rc) throw new Error(`invalid topic name "${msg.topic}"`);
    const bm: BrokerMessage = {
      topic: msg.topic,
      payload: typeof msg.payload === 'string' ? Buffer.from(msg.payload) : msg.payload,
      qos: msg.qos ?? 0,
      retain: msg.retain ?? false,
      origin: '',
    };
    if (msg.properties) {
      const p = { ...msg.properties };
      delete p.topicAlias;
      delete p.subscriptionIdentifier;
      bm.properties = p;
      if (p.messageExpiryInterval !== undefined) bm.receivedAt = Date.now();
    }
    if (bm.qos === 0 && !bm.retain) {
      this.acceptPublish(bm, null);
      return;
    }
    // resolves once the message is stored for persistent sessions / as retained
    const { ops } = this.acceptDurably(bm, null);
    if (ops.length) await Promise.all(ops);
  }

  /** Internal publish for $SYS (retained, not persisted). */
  publishSys(topic: string, value: string | number): void {
    // not counted as received, not persisted: $SYS is the broker's own state
    const m: BrokerMessage = { topic, payload: Buffer.from(String(value)), qos: 0, retain: true, origin: '' };
    this.trie.setRetained(m);
    this.route(m);
  }

  // ------------------------------------------------------------------ in-process

  async connectInProcess(opts: InProcessConnectOptions = {}): Promise<InProcessClient> {
    await this.readyPromise;
    if (this.closing) throw new Error('broker is closing');
    const c = new InProcessClientImpl(this, opts, ++this.inprocSeq);
    await c.connect();
    return c;
  }

  assignClientId(): string {
    return `auto-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }

  // ------------------------------------------------------------------ information

  clients(): ClientInfo[] {
    const out: ClientInfo[] = [];
    for (const s of this.sessions.values()) {
      const link = s.link as (Link & { info?: () => { connectedAt: number; keepAlive: number; cleanStart: boolean } }) | null;
      if (!link) continue;
      const i = link.info ? link.info() : { connectedAt: 0, keepAlive: 0, cleanStart: true };
      out.push({
        ...link.identity,
        connectedAt: i.connectedAt,
        keepAlive: i.keepAlive,
        cleanStart: i.cleanStart,
        sessionExpiryInterval: s.expiryInterval,
        subscriptions: [...s.subs.values()],
        inflight: s.inflightCount,
        queued: s.queuedCount,
      });
    }
    return out;
  }

  disconnectClient(clientId: string, reasonCode: number = RC.ADMINISTRATIVE_ACTION): boolean {
    const s = this.sessions.get(clientId);
    if (!s || !s.link) return false;
    s.link.close(reasonCode);
    return true;
  }

  stats(): BrokerStats {
    let inflight = 0;
    let queued = 0;
    for (const s of this.sessions.values()) {
      inflight += s.inflightCount;
      queued += s.queuedCount;
    }
    return {
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      clientsConnected: this.connectedCount,
      clientsTotal: this.sessions.size,
      clientsMaximum: this.clientsMaximum,
      subscriptions: this.trie.subscriptionCount,
      retainedMessages: this.trie.retainedCount,
      messagesReceived: this.messagesReceived,
      messagesSent: this.messagesSent,
      messagesDropped: this.messagesDropped,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      inflight,
      queued,
    };
  }

  /** One shared timer for every connection: CONNECT timeout and keep alive, [MQTT-3.1.2-22]. */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.connections) c.check(now);
  }

  on<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this {
    this.ee.on(ev, fn as (...a: unknown[]) => void);
    return this;
  }
  once<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this {
    this.ee.once(ev, fn as (...a: unknown[]) => void);
    return this;
  }
  off<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this {
    this.ee.off(ev, fn as (...a: unknown[]) => void);
    return this;
  }
  /** Emit an event; a throwing listener (user code) never breaks the broker. */
  emit<K extends keyof BrokerEvents>(ev: K, ...args: BrokerEvents[K]): boolean {
    try {
      return this.ee.emit(ev, ...args);
    } catch (error) {
      if (ev !== 'clientError') {
        try {
          this.ee.emit('clientError', { error: error instanceof Error ? error : new Error(String(error)) });
        } catch {
          // nothing more to do
        }
      }
      return true;
    }
  }
  listenerCount(ev: keyof BrokerEvents): number {
    return this.ee.listenerCount(ev);
  }
}

/** [MQTT-3.3.2-5] Message Expiry: true once the interval has passed since the broker got it. */
export function isExpired(m: BrokerMessage, now: number): boolean {
  const e = m.properties?.messageExpiryInterval;
  if (e === undefined || m.receivedAt === undefined) return false;
  return now - m.receivedAt >= e * 1000;
}

/** Remaining expiry in whole seconds to send on forwarding, [MQTT-3.3.2-6]. */
export function remainingExpiry(m: BrokerMessage, now: number): number {
  const e = m.properties!.messageExpiryInterval!;
  if (m.receivedAt === undefined) return e;
  return Math.max(1, e - Math.floor((now - m.receivedAt) / 1000));
}

/** The store with synchronous throws turned into rejected promises (handled by storeOp). */
function safeStore(store: BrokerStore): BrokerStore {
  const wrapped = Object.create(store) as BrokerStore;
  for (const k of ['open', 'close', 'storeRetained', 'loadRetained', 'saveSession', 'loadSessions', 'deleteSession', 'enqueue', 'updateQueued', 'removeQueued', 'loadQueue'] as const) {
    const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[k];
    if (typeof fn !== 'function') continue;
    (wrapped as unknown as Record<string, unknown>)[k] = (...a: unknown[]): Promise<unknown> => {
      try {
        return Promise.resolve(fn.apply(store, a));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return wrapped;
}

function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const end = Date.now() + ms;
    const t = setInterval(() => {
      if (cond() || Date.now() >= end) {
        clearInterval(t);
        resolve();
      }
    }, 10);
  });
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

export type { Session };
