/**
 * One network connection: own packet framing (size limit enforced from the fixed header), the
 * hot packets decoded by codec.ts and the rest by a shared mqtt-packet parser, coalesced writes (cork once per event-loop turn), keep alive bookkeeping (checked by the
 * broker's single sweep timer) and dispatch to handlers/.
 */
import type { Duplex } from 'node:stream';
import type { BrokerMessage, ClientIdentity, ProtocolVersion, QoS } from './types';
import type { BrokerImpl } from './broker';
import { QOS0_BACKPRESSURE_BYTES, remainingExpiry } from './broker';
import type { Link, Session } from './session/session';
import { RC, reasonText } from './capabilities';
import { decodeConnectFast, decodePublishFast, encodeAckFast, encodePublishFast, generate, parseComplete } from './codec';
import { handleConnect } from './handlers/connect';
import { handlePublish } from './handlers/publish';
import { handlePuback } from './handlers/puback';
import { handlePubrec } from './handlers/pubrec';
import { handlePubrel } from './handlers/pubrel';
import { handlePubcomp } from './handlers/pubcomp';
import { handleSubscribe } from './handlers/subscribe';
import { handleUnsubscribe } from './handlers/unsubscribe';
import { handlePingreq } from './handlers/pingreq';
import { handleDisconnect } from './handlers/disconnect';
import { handleAuth } from './handlers/auth';

export const enum ConnState {
  New = 0,
  Authenticating = 1,
  Connected = 2,
  Closed = 3,
}

// ---- write coalescing: every connection written to in this turn is uncorked once, on nextTick
const corked: Connection[] = [];
let flushScheduled = false;
function flushCorked(): void {
  flushScheduled = false;
  for (let i = 0; i < corked.length; i++) corked[i]!.uncork();
  corked.length = 0;
}

// ---- publisher flow control: a publisher whose messages land on a congested subscriber stops
// being read for a moment (until the subscriber drains, at most THROTTLE_MAX_MS), so a fast
// publisher cannot overrun a healthy-but-slower subscriber. A subscriber congested for longer
// than STALL_MS is "stalled": publishers are no longer held for it; its QoS 0 messages are
// dropped (and counted) above QOS0_BACKPRESSURE_BYTES, and its QoS>0 queue is capped by maxQueued.
const SOFT_PRESSURE_BYTES = 512 * 1024;
const THROTTLE_MAX_MS = 5000;
const STALL_MS = 1000;
const throttled = new Set<Connection>();
let throttleTimer: NodeJS.Timeout | null = null;
function checkThrottled(): void {
  throttleTimer = null;
  const now = Date.now();
  for (const c of throttled) {
    const t = c.throttledBy;
    if (t === null || c.state === ConnState.Closed || !t.isBusy(now) || now - c.throttledAt > THROTTLE_MAX_MS) c.unthrottle();
  }
  if (throttled.size > 0) throttleTimer = setTimeout(checkThrottled, 1);
}

// ---- QoS 0 encode cache: identical bytes for every v4 / v5 subscriber of one routed message
let cacheMsg: BrokerMessage | null = null;
let cacheGen = -1;
let cacheV4: Buffer | null = null;
let cacheV5: Buffer | null = null;

const PINGREQ_PACKET = Object.freeze({ cmd: 'pingreq' });
const CONN = Symbol('mqtt5-hub.connection');
type ConnStream = Duplex & { [CONN]: Connection };
function onStreamData(this: ConnStream, d: Buffer): void {
  this[CONN].onData(d);
}
function onStreamError(this: ConnStream, e: Error): void {
  this[CONN].onStreamError(e);
}
function onStreamEnd(this: ConnStream): void {
  this[CONN].teardown(RC.UNSPECIFIED_ERROR);
}
function onStreamClose(this: ConnStream): void {
  this[CONN].onStreamClose();
}
function onStreamDrain(this: ConnStream): void {
  this[CONN].onStreamDrain();
}
const ACK_CMD: Record<number, string> = { 0x40: 'puback', 0x50: 'pubrec', 0x62: 'pubrel', 0x70: 'pubcomp' };
/** Fixed header length of the packet framed last (set by frameLength). */
let frameHdr = 0;

export class Connection implements Link {
  state: ConnState = ConnState.New;
  protocolVersion: ProtocolVersion = 4;
  identity: ClientIdentity;
  session: Session | null = null;
  keepAlive = 0;
  lastActivity: number;
  readonly createdAt: number;
  connectedAt = 0;
  cleanStart = true;
  clientReceiveMaximum = 65535;
  /** The client's Maximum Packet Size (0 = no limit). */
  clientMaxPacketSize = 0;
  clientTopicAliasMax = 0;
  aliasIn: Map<number, string> | null = null;
  aliasOut: Map<string, number> | null = null;
  readonly autoAck = false;
  /** Inbound QoS 1 messages waiting for an asynchronous authorization. */
  pendingInbound = 0;
  /** Acknowledgements waiting for store writes, and the chain that keeps them in order. */
  acksWaiting = 0;
  ackChain: Promise<unknown> | null = null;
  requestProblemInfo = true;
  authMethod: string | undefined;
  /** Packets held while an asynchronous step (auth hook) runs, to keep their order. */
  private backlog: any[] | null = null;
  busy = false;
  private isCorked = false;
  private drainHooked = false;
  /** Send the will when the connection ends (cleared by DISCONNECT 0x00). */
  sendWill = true;
  closeReason: number = RC.UNSPECIFIED_ERROR;
  private closeTimer: NodeJS.Timeout | null = null;
  // flow control
  throttledBy: Connection | null = null;
  throttledAt = 0;
  private congestedSince = 0;
  private lastProgress = -1;
  /** Bytes handed to the stream, and outbound acks received: progress markers for flow control. */
  sentBytes = 0;
  acks = 0;
  private pausedBacklog = false;
  // framing: bytes of an incomplete packet
  private partial: Buffer[] | null = null;
  private partialLen = 0;
  /** Total length of the incomplete packet (0 while its header is incomplete). */
  private need = 0;

  constructor(
    readonly broker: BrokerImpl,
    readonly stream: Duplex,
    readonly listenerId: string,
    readonly remoteAddress: string | undefined,
    readonly certificateSubject: string | undefined,
  ) {
    this.createdAt = this.lastActivity = Date.now();
    this.identity = { clientId: '', protocolVersion: 4, remoteAddress, listener: listenerId };
    if (certificateSubject) this.identity.certificateSubject = certificateSubject;
    // shared listener functions (no closures per connection): the stream points back to us
    (stream as unknown as Record<symbol, Connection>)[CONN] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamError);
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
    // 'drain' is listened to from the first write that fills the stream's buffer (see writeRaw)
  }

  onStreamError(e: Error): void {
    if (this.state !== ConnState.Closed) {
      this.broker.emit('clientError', { clientId: this.identity.clientId || undefined, remoteAddress: this.remoteAddress, error: e });
    }
    this.teardown(RC.UNSPECIFIED_ERROR);
  }

  onStreamClose(): void {
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.teardown(RC.UNSPECIFIED_ERROR);
  }

  onStreamDrain(): void {
    this.congestedSince = 0;
    if (this.session && this.session.link === this) this.broker.drain(this.session);
  }

  info(): { connectedAt: number; keepAlive: number; cleanStart: boolean } {
    return { connectedAt: this.connectedAt, keepAlive: this.keepAlive, cleanStart: this.cleanStart };
  }

  // ------------------------------------------------------------------ input

  onData(chunk: Buffer): void {
    if (this.state === ConnState.Closed) return;
    this.broker.bytesReceived += chunk.length;
    this.lastActivity = Date.now();
    let buf = chunk;
    if (this.partial !== null) {
      this.partial.push(chunk);
      this.partialLen += chunk.length;
      if (this.need > 0 && this.partialLen < this.need) return; // wait for the rest, no copying
      buf = Buffer.concat(this.partial, this.partialLen);
      this.partial = null;
      this.partialLen = 0;
      this.need = 0;
    }
    if (this.state === ConnState.New && buf[0] !== 0x10) {
      // [MQTT-3.1.0-1] the first packet must be CONNECT: refuse anything else at its first byte
      this.close(RC.PROTOCOL_ERROR, 'first packet is not CONNECT');
      return;
    }
    const n = buf.length;
    let off = 0;
    while (off < n) {
      const total = this.frameLength(buf, off);
      if (total < 0) return this.frameError(-total);
      if (total === 0 || off + total > n) {
        const rest = buf.subarray(off);
        this.partial = [rest];
        this.partialLen = rest.length;
        this.need = total;
        return;
      }
      this.onFrame(total === n ? buf : buf.subarray(off, off + total), frameHdr);
      if ((this.state as ConnState) === ConnState.Closed) return;
      off += total;
    }
  }

  /**
   * Total length of the packet at `off` (fixed header + Remaining Length), 0 when the header is
   * not complete yet, or minus a reason code. An oversize packet is refused from its header,
   * before any of it is buffered.
   */
  private frameLength(buf: Buffer, off: number): number {
    const n = buf.length;
    let len = 0;
    let mul = 1;
    let i = off + 1;
    for (;;) {
      if (i >= n) return 0;
      const b = buf[i++]!;
      len += (b & 127) * mul;
      if ((b & 128) === 0) break;
      mul *= 128;
      // [MQTT-1.5.5-1] a Variable Byte Integer has at most 4 bytes.
      if (i - off > 4) return -RC.MALFORMED_PACKET;
    }
    frameHdr = i - off;
    const total = frameHdr + len;
    // Maximum Packet Size we advertised (3.2.2.3.6): a bigger packet gets DISCONNECT 0x95.
    if (total > this.broker.limits.maxPacketSize) return -RC.PACKET_TOO_LARGE;
    return total;
  }

  private frameError(rc: number): void {
    this.partial = null;
    this.close(rc, rc === RC.PACKET_TOO_LARGE ? 'packet exceeds maximum packet size' : 'malformed remaining length');
  }

  /** One complete packet: the hot ones decoded here, the rest by (a shared) mqtt-packet parser. */
  private onFrame(pkt: Buffer, hdr: number): void {
    let p: any = null;
    if (this.state === ConnState.Connected) {
      const b0 = pkt[0]!;
      if (b0 >> 4 === 3) p = decodePublishFast(pkt, hdr, this.protocolVersion);
      else if (pkt.length === 4 && pkt[1] === 2) {
        const cmd = ACK_CMD[b0];
        if (cmd !== undefined) p = { cmd, messageId: (pkt[2]! << 8) | pkt[3]! };
      } else if (b0 === 0xc0 && pkt.length === 2) p = PINGREQ_PACKET;
      else if (b0 === 0xe0 && pkt.length === 2) p = { cmd: 'disconnect', reasonCode: 0 };
    } else if (this.state === ConnState.New) p = decodeConnectFast(pkt, hdr);
    if (p === null) {
      const r = parseComplete(pkt, this.state === ConnState.New ? 4 : this.protocolVersion);
      if (r instanceof Error) return this.onParseError(r);
      p = r;
    }
    this.onPacket(p);
  }

  private onParseError(e: Error): void {
    if (this.state === ConnState.Closed) return;
    if (this.state === ConnState.New && /protocol version/i.test(e.message)) {
      // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 (3.1.1 form) and close.
      this.writeRaw(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      this.close(RC.UNSUPPORTED_PROTOCOL_VERSION, e.message);
      return;
    }
    // [MQTT-4.13.1-1] malformed packet: DISCONNECT 0x81 (MQTT 5) and close.
    this.close(RC.MALFORMED_PACKET, e.message);
  }

  private onPacket(p: any): void {
    if (this.state === ConnState.Closed) return;
    if (this.busy || this.throttledBy !== null) {
      (this.backlog ??= []).push(p);
      if (this.backlog.length > 1000 && !this.pausedBacklog) {
        this.pausedBacklog = true;
        this.applyFlow();
      }
      return;
    }
    this.dispatch(p);
  }

  /** Hold packets until resume() (an asynchronous step is running). */
  suspend(): void {
    this.busy = true;
  }

  resume(): void {
    this.busy = false;
    this.processBacklog();
  }

  private processBacklog(): void {
    const b = this.backlog;
    if (!b) return;
    this.backlog = null;
    for (let i = 0; i < b.length; i++) {
      if (this.state === ConnState.Closed) return;
      if (this.busy || this.throttledBy !== null) {
        // a packet went asynchronous again: keep the rest in order
        this.backlog = b.slice(i).concat(this.backlog ?? []);
        return;
      }
      this.dispatch(b[i]);
    }
    if (this.pausedBacklog) {
      this.pausedBacklog = false;
      this.applyFlow();
    }
  }

  private applyFlow(): void {
    if (this.state === ConnState.Closed) return;
    const want = this.pausedBacklog || this.throttledBy !== null;
    if (want && !this.stream.isPaused()) this.stream.pause();
    else if (!want && this.stream.isPaused()) this.stream.resume();
  }

  /** True while this (subscriber) connection is congested but not (yet) considered stalled. */
  isBusy(now: number): boolean {
    if (this.state === ConnState.Closed) return false;
    const s = this.session;
    const busy = this.stream.writableLength > SOFT_PRESSURE_BYTES || (s !== null && s.queuedCount > this.queueSoftLimit());
    if (!busy) {
      this.congestedSince = 0;
      return false;
    }
    // a congested subscriber that still makes progress (bytes leave the buffer, acks arrive) is
    // slow, not stalled: keep holding its publishers back
    const progress = this.sentBytes - this.stream.writableLength + this.acks;
    if (this.congestedSince === 0 || progress !== this.lastProgress) {
      this.congestedSince = now;
      this.lastProgress = progress;
    }
    return now - this.congestedSince < STALL_MS;
  }

  private queueSoftLimit(): number {
    const half = this.broker.limits.maxQueued >> 1;
    return half < 100 ? half : 100;
  }

  /** How long this connection has been congested without progress (0 when not congested). */
  stalledFor(now: number): number {
    const s = this.session;
    const congested =
      this.stream.writableLength > SOFT_PRESSURE_BYTES || (s !== null && s.queuedCount > 0 && s.inflightCount >= this.broker.window(s));
    if (!congested) {
      this.congestedSince = 0;
      return 0;
    }
    const progress = this.sentBytes - this.stream.writableLength + this.acks;
    if (this.congestedSince === 0 || progress !== this.lastProgress) {
      this.congestedSince = now;
      this.lastProgress = progress;
    }
    return now - this.congestedSince;
  }

  /** Link: should publishers feeding this connection be slowed down? */
  pressure(): boolean {
    const s = this.session;
    if (this.stream.writableLength <= SOFT_PRESSURE_BYTES && (s === null || s.queuedCount <= this.queueSoftLimit())) {
      this.congestedSince = 0;
      return false;
    }
    return this.isBusy(Date.now());
  }

  /** Stop reading from this (publisher) connection until `target` drains. */
  throttle(target: Connection): void {
    if (this.throttledBy !== null || target === this || this.state === ConnState.Closed) return;
    this.throttledBy = target;
    this.throttledAt = Date.now();
    throttled.add(this);
    this.applyFlow();
    if (throttleTimer === null) throttleTimer = setTimeout(checkThrottled, 1);
  }

  unthrottle(): void {
    throttled.delete(this);
    if (this.throttledBy === null) return;
    this.throttledBy = null;
    this.applyFlow();
    if (!this.busy) this.processBacklog();
  }

  private dispatch(p: any): void {
    try {
      if (this.state !== ConnState.Connected) {
        if (p.cmd === 'connect') return handleConnect(this, p);
        if (this.state === ConnState.Authenticating && p.cmd === 'auth') return handleAuth(this, p);
        if (this.state === ConnState.Authenticating && p.cmd === 'disconnect') return this.destroy();
        // [MQTT-3.1.0-1] the first packet must be CONNECT.
        return this.close(RC.PROTOCOL_ERROR, `${p.cmd} before CONNECT`);
      }
      switch (p.cmd) {
        case 'publish':
          return handlePublish(this, p);
        case 'puback':
          return handlePuback(this, p);
        case 'pubrec':
          return handlePubrec(this, p);
        case 'pubrel':
          return handlePubrel(this, p);
        case 'pubcomp':
          return handlePubcomp(this, p);
        case 'subscribe':
          return handleSubscribe(this, p);
        case 'unsubscribe':
          return handleUnsubscribe(this, p);
        case 'pingreq':
          return handlePingreq(this);
        case 'disconnect':
          return handleDisconnect(this, p);
        case 'auth':
          return handleAuth(this, p);
        case 'connect':
          // [MQTT-3.1.0-2] a second CONNECT is a protocol error.
          return this.close(RC.PROTOCOL_ERROR, 'second CONNECT');
        default:
          // a server-to-client packet (CONNACK, SUBACK, ...) from a client
          return this.close(RC.PROTOCOL_ERROR, `unexpected ${p.cmd} from a client`);
      }
    } catch (e) {
      this.broker.emit('clientError', { clientId: this.identity.clientId || undefined, remoteAddress: this.remoteAddress, error: e as Error });
      this.close(RC.IMPLEMENTATION_SPECIFIC_ERROR, 'internal error');
    }
  }

  /** Called every second by the broker's sweep. */
  check(now: number): void {
    if (this.state === ConnState.New || this.state === ConnState.Authenticating) {
      if (now - this.createdAt > this.broker.limits.connectTimeoutMs) this.close(RC.MAXIMUM_CONNECT_TIME, 'CONNECT timeout');
      return;
    }
    // [MQTT-3.1.2-22] no packet within 1.5 x Keep Alive: the server closes the connection (0x8D).
    if (this.state === ConnState.Connected && this.keepAlive > 0 && now - this.lastActivity > this.keepAlive * 1500) {
      this.close(RC.KEEP_ALIVE_TIMEOUT, 'keep alive timeout');
      return;
    }
    // a $share member that stopped making progress hands its queued group messages to the others
    const s = this.session;
    if (s !== null && s.queue !== null && s.queue.length > 0 && this.stalledFor(now) >= STALL_MS) {
      this.broker.redistributeShared(s, undefined, true);
    }
  }

  // ------------------------------------------------------------------ output

  uncork(): void {
    this.isCorked = false;
    this.stream.uncork();
  }

  writeRaw(buf: Buffer): void {
    const st = this.stream;
    if (st.destroyed || st.writableEnded) return;
    if (!this.isCorked) {
      this.isCorked = true;
      st.cork();
      corked.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushCorked);
      }
    }
    this.broker.bytesSent += buf.length;
    this.sentBytes += buf.length;
    if (!st.write(buf) && !this.drainHooked) this.hookDrain();
  }

  /** 'drain' follows only a write that returned false: listen from then on (saves a listener per idle connection). */
  private hookDrain(): void {
    this.drainHooked = true;
    this.stream.on('drain', onStreamDrain);
  }

  /**
   * Write now, without corking, when nothing else is pending on the stream (the CONNACK): a lone
   * packet gains nothing from coalescing, and this spares the cork/uncork round and the flush
   * tick. Anything written later in this turn is corked behind it, so the order is kept.
   */
  writeFirst(buf: Buffer): void {
    const st = this.stream;
    if (this.isCorked || st.writableLength > 0) return this.writeRaw(buf);
    if (st.destroyed || st.writableEnded) return;
    this.broker.bytesSent += buf.length;
    this.sentBytes += buf.length;
    if (!st.write(buf) && !this.drainHooked) this.hookDrain();
  }

  /** Encode and send any packet (not the PUBLISH hot path). */
  send(packet: any): void {
    if (this.state === ConnState.Closed) return;
    let buf: Buffer;
    try {
      buf = generate(packet, this.protocolVersion);
    } catch (e) {
      this.broker.emit('clientError', { clientId: this.identity.clientId, error: e as Error });
      return;
    }
    if (this.clientMaxPacketSize && buf.length > this.clientMaxPacketSize && packet.properties) {
      // [MQTT-3.1.2-29] reason string / user properties are dropped first when too large.
      const props = { ...packet.properties };
      delete props.reasonString;
      delete props.userProperties;
      buf = generate({ ...packet, properties: props }, this.protocolVersion);
    }
    if (this.clientMaxPacketSize && buf.length > this.clientMaxPacketSize) return;
    this.writeRaw(buf);
  }

  writable(): boolean {
    return this.state === ConnState.Connected && this.stream.writableLength < QOS0_BACKPRESSURE_BYTES;
  }

  sendPublish(msg: BrokerMessage, qos: QoS, messageId: number, dup: boolean, subIds: number[] | undefined): boolean {
    if (this.state !== ConnState.Connected) return false;
    const v5 = this.protocolVersion === 5;
    const props = msg.properties;
    const useAlias = v5 && this.clientTopicAliasMax > 0;
    // identical bytes for every plain QoS 0 subscriber of this message: encode once
    const cacheable = qos === 0 && subIds === undefined && !useAlias;
    if (cacheable && cacheMsg === msg && cacheGen === this.broker.encodeGen) {
      const cached = v5 ? cacheV5 : cacheV4;
      if (cached !== null) {
        if (this.clientMaxPacketSize && cached.length > this.clientMaxPacketSize) return false;
        this.writeRaw(cached);
        return true;
      }
    }
    const packet: any = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos, retain: msg.retain, dup, messageId };
    if (v5) {
      let p: any = undefined;
      if (props !== undefined) {
        p = {};
        if (props.payloadFormatIndicator !== undefined) p.payloadFormatIndicator = props.payloadFormatIndicator;
        if (props.messageExpiryInterval !== undefined) p.messageExpiryInterval = remainingExpiry(msg, Date.now());
        if (props.responseTopic !== undefined) p.responseTopic = props.responseTopic;
        if (props.correlationData !== undefined) p.correlationData = props.correlationData;
        if (props.userProperties !== undefined) p.userProperties = props.userProperties;
        if (props.contentType !== undefined) p.contentType = props.contentType;
      }
      if (subIds !== undefined) {
        // [MQTT-3.3.4-3] [MQTT-3.3.4-4] one copy carries the identifiers of ALL matching subscriptions.
        (p ??= {}).subscriptionIdentifier = subIds.length === 1 ? subIds[0] : subIds;
      }
      if (useAlias) {
        const am = (this.aliasOut ??= new Map());
        const a = am.get(msg.topic);
        if (a !== undefined) {
          (p ??= {}).topicAlias = a;
          packet.topic = '';
        } else if (am.size < this.clientTopicAliasMax) {
          // [MQTT-3.3.2-11] aliases stay within the client's Topic Alias Maximum.
          const na = am.size + 1;
          am.set(msg.topic, na);
          (p ??= {}).topicAlias = na;
        }
      }
      if (p !== undefined) packet.properties = p;
    }
    let buf: Buffer;
    try {
      buf =
        packet.properties === undefined
          ? encodePublishFast(packet.topic, msg.payload, qos, msg.retain, dup, messageId, this.protocolVersion)
          : generate(packet, this.protocolVersion);
    } catch (e) {
      this.broker.emit('clientError', { clientId: this.identity.clientId, error: e as Error });
      return false;
    }
    if (cacheable) {
      if (cacheMsg !== msg || cacheGen !== this.broker.encodeGen) {
        cacheMsg = msg;
        cacheGen = this.broker.encodeGen;
        cacheV4 = cacheV5 = null;
      }
      if (v5) cacheV5 = buf;
      else cacheV4 = buf;
    }
    // [MQTT-3.1.2-24] never send a packet larger than the client's Maximum Packet Size.
    if (this.clientMaxPacketSize && buf.length > this.clientMaxPacketSize) {
      if (useAlias && packet.topic !== '' && packet.properties?.topicAlias !== undefined) this.aliasOut!.delete(msg.topic);
      return false;
    }
    this.writeRaw(buf);
    return true;
  }

  sendPubrel(messageId: number): void {
    if (this.state !== ConnState.Closed) this.writeRaw(encodeAckFast('pubrel', messageId));
  }

  /** PUBACK/PUBREC/PUBCOMP with reason 0 and no properties. */
  sendAck(cmd: string, messageId: number): void {
    if (this.state !== ConnState.Closed) this.writeRaw(encodeAckFast(cmd, messageId));
  }

  /** Build a properties object with a reason string when the client allows problem information. */
  reasonProps(reasonString: string | undefined, extra?: Record<string, unknown>): any {
    if (this.protocolVersion !== 5) return undefined;
    const p: any = extra ? { ...extra } : {};
    // [MQTT-3.1.2-29] no reason string when Request Problem Information is 0 (except on CONNACK/DISCONNECT).
    if (reasonString && this.requestProblemInfo) p.reasonString = reasonString;
    return Object.keys(p).length ? p : undefined;
  }

  // ------------------------------------------------------------------ closing

  /**
   * Close this connection. MQTT 5 clients get a DISCONNECT with `reasonCode` once connected
   * (before CONNACK the caller sends a CONNACK instead).
   */
  close(reasonCode: number, reasonString?: string): void {
    if (this.state === ConnState.Closed) return;
    this.closeReason = reasonCode;
    if (this.protocolVersion === 5 && this.state === ConnState.Connected && reasonCode >= 0x80) {
      const properties: any = reasonString ? { reasonString } : undefined;
      this.send({ cmd: 'disconnect', reasonCode, properties });
    } else if (this.protocolVersion === 5 && this.state === ConnState.Connected && reasonCode === 0) {
      this.send({ cmd: 'disconnect', reasonCode });
    }
    this.teardown(reasonCode);
    if (this.isCorked) this.uncork();
    this.stream.end();
    // a peer that never reads must not keep us waiting
    if (!this.stream.destroyed && this.closeTimer === null) {
      this.closeTimer = setTimeout(() => {
        this.closeTimer = null;
        this.stream.destroy();
      }, 1000);
      this.closeTimer.unref();
    }
  }

  destroy(): void {
    this.teardown(this.closeReason);
    this.stream.destroy();
  }

  /** Connection gone: detach the session (will, expiry), update counters, emit. Idempotent. */
  teardown(reasonCode: number): void {
    if (this.state === ConnState.Closed) return;
    const wasConnected = this.state === ConnState.Connected;
    this.state = ConnState.Closed;
    this.broker.connections.delete(this);
    this.backlog = null;
    throttled.delete(this);
    this.throttledBy = null;
    const s = this.session;
    if (s && s.link === this) this.broker.detach(s, this.sendWill);
    if (wasConnected) {
      const rc = this.closeReason === RC.UNSPECIFIED_ERROR ? reasonCode : this.closeReason;
      this.broker.emit('clientDisconnected', {
        clientId: this.identity.clientId,
        username: this.identity.username,
        reasonCode: rc,
        reason: reasonText(rc),
      });
    }
  }
}
