/**
 * CONNECT (MQTT 5 section 3.1, 3.1.1 section 3.1): validation, authentication (plain and
 * enhanced, section 4.12), session takeover / clean start / resume, CONNACK with capabilities.
 */
import type { AuthenticateRequest, AuthResult, BrokerMessage, ProtocolVersion, QoS } from '../types';
import { ConnState, type Connection } from '../connection';
import { RC, connackCodeV3 } from '../capabilities';
import { isPromise } from '../hooks';
import { validateTopicName, isValidUtf8 } from '../routing/topics';

const NO_PROPS: Record<string, any> = Object.freeze({});
const ALLOW: AuthResult = Object.freeze({ reasonCode: 0 });
const WILL_PROPS = ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties'];

/** Will message of a CONNECT being processed (set up by continueConnect, used by acceptConnect). */
type Will = { message: BrokerMessage; delayInterval: number } | null;

export function handleConnect(c: Connection, p: any): void {
  const broker = c.broker;
  const pv = p.protocolVersion as ProtocolVersion;
  c.protocolVersion = pv;
  c.identity.protocolVersion = pv;
  c.suspend(); // nothing after CONNECT is processed before the CONNACK decision
  if (!broker.ready) {
    broker.whenReady().then(
      () => continueConnect(c, p),
      () => sendConnackError(c, RC.SERVER_UNAVAILABLE, 'store unavailable'),
    );
    return;
  }
  continueConnect(c, p);
}

// (module-level functions with explicit arguments: no closures are allocated per CONNECT)
function continueConnect(c: Connection, p: any): void {
  if (c.state === ConnState.Closed) return;
  const broker = c.broker;
  const limits = broker.limits;
  const pv = c.protocolVersion;
  const v5 = pv === 5;
  const props = p.properties ?? NO_PROPS;
  if (broker.closing) return sendConnackError(c, RC.SERVER_UNAVAILABLE, 'server shutting down');
  // Maximum connections: 0x97 Quota exceeded ("an implementation or administrative imposed limit
  // has been exceeded", Table 2-6) - 0x9F is about the *rate* of connections, not their number.
  if (broker.connectedCount >= limits.maxConnections && !broker.sessions.get(p.clientId)?.link) {
    return sendConnackError(c, RC.QUOTA_EXCEEDED, 'maximum number of connections reached');
  }
  if (v5) {
    // 3.1.2.11.3 / 3.1.2.11.4: Receive Maximum 0 and Maximum Packet Size 0 are Protocol Errors.
    if (props.receiveMaximum === 0) return sendConnackError(c, RC.PROTOCOL_ERROR, 'receive maximum 0');
    if (props.maximumPacketSize === 0) return sendConnackError(c, RC.PROTOCOL_ERROR, 'maximum packet size 0');
    if (props.receiveMaximum) c.clientReceiveMaximum = props.receiveMaximum;
    if (props.maximumPacketSize) c.clientMaxPacketSize = props.maximumPacketSize;
    if (props.topicAliasMaximum) c.clientTopicAliasMax = props.topicAliasMaximum;
    if (props.requestProblemInformation === false || props.requestProblemInformation === 0) c.requestProblemInfo = false;
  }
  let clientId: string = p.clientId ?? '';
  let assigned: string | undefined;
  const clean = p.clean !== false;
  if (clientId === '') {
    // [MQTT-3.1.3-6] [MQTT-3.1.3-7] MQTT 5: assign an id. MQTT 3.1.1 [MQTT-3.1.3-8] (3.1.1 numbering): only with clean session;
    // MQTT 3.1 requires 1..23 characters.
    if (v5 || (pv === 4 && clean)) {
      clientId = assigned = broker.assignClientId();
    } else return sendConnackError(c, RC.CLIENT_IDENTIFIER_NOT_VALID, 'empty client identifier');
  }
  if (pv === 3 && clientId.length > 23) return sendConnackError(c, RC.CLIENT_IDENTIFIER_NOT_VALID, 'MQTT 3.1 client identifier longer than 23');
  c.identity.clientId = clientId;
  if (p.username !== undefined) c.identity.username = p.username;

  // will message [MQTT-3.1.2-7..]
  let will: Will = null;
  if (p.will) {
    const w = p.will;
    const trc = validateTopicName(w.topic ?? '', limits);
    if (trc) return sendConnackError(c, RC.TOPIC_NAME_INVALID, 'invalid will topic');
    if ((w.qos ?? 0) > limits.maximumQoS) return sendConnackError(c, RC.QOS_NOT_SUPPORTED, 'will QoS not supported'); // [MQTT-3.2.2-12]
    if (w.retain && !limits.retainAvailable) return sendConnackError(c, RC.RETAIN_NOT_SUPPORTED, 'retain not supported'); // [MQTT-3.2.2-13]
    const wp = w.properties ?? NO_PROPS;
    const payload: Buffer = Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload ?? '');
    if (wp.payloadFormatIndicator && !isValidUtf8(payload)) return sendConnackError(c, RC.PAYLOAD_FORMAT_INVALID, 'will payload is not UTF-8');
    const msgProps: any = {};
    for (const k of WILL_PROPS) {
      if (wp[k] !== undefined) msgProps[k] = wp[k];
    }
    const message: BrokerMessage = {
      topic: w.topic,
      payload,
      qos: (w.qos ?? 0) as QoS,
      retain: !!w.retain,
      origin: clientId,
    };
    if (Object.keys(msgProps).length) message.properties = msgProps;
    will = { message, delayInterval: wp.willDelayInterval ?? 0 };
  }

  const authMethod: string | undefined = v5 && props.authenticationMethod ? props.authenticationMethod : undefined;
  if (authMethod !== undefined) c.authMethod = authMethod;
  if (!broker.hooks.hasAuthenticate) {
    // nobody to ask: allowed, unless enhanced authentication was asked for [MQTT-4.12.0-1]
    // (the request object is only built for hooks)
    if (authMethod === undefined) return acceptConnect(c, p, will, assigned, undefined, ALLOW);
  }
  const req: AuthenticateRequest = { ...c.identity };
  if (p.password !== undefined) req.password = Buffer.isBuffer(p.password) ? p.password : Buffer.from(String(p.password));
  if (authMethod !== undefined) {
    req.authenticationMethod = authMethod;
    if (props.authenticationData) req.authenticationData = props.authenticationData;
  }
  const r = broker.hooks.authenticate(req);
  if (isPromise<AuthResult | undefined>(r)) {
    r.then(
      (x) => finishConnect(c, p, will, assigned, req, x),
      () => finishConnect(c, p, will, assigned, req, { reasonCode: RC.UNSPECIFIED_ERROR }),
    );
  } else finishConnect(c, p, will, assigned, req, r);
}

/** The authentication answer (from a hook, or after AUTH exchanges). */
function finishConnect(c: Connection, p: any, will: Will, assigned: string | undefined, req: AuthenticateRequest, r: AuthResult | undefined): void {
  if (c.state === ConnState.Closed) return;
  if (r === undefined) {
    // nobody answered: allowed, unless enhanced authentication was asked for [MQTT-4.12.0-1]
    if (req.authenticationMethod) r = { reasonCode: RC.BAD_AUTHENTICATION_METHOD, reasonString: 'authentication method not supported' };
    else r = ALLOW;
  }
  if (r.reasonCode === RC.CONTINUE_AUTHENTICATION && req.authenticationMethod) {
    // [MQTT-4.12.0-2] AUTH 0x18 carries the method and the hook's data.
    c.state = ConnState.Authenticating;
    pendingConnect.set(c, { finishAuth: (x) => finishConnect(c, p, will, assigned, req, x), req });
    const properties: any = { authenticationMethod: req.authenticationMethod };
    if (r.authenticationData) properties.authenticationData = r.authenticationData;
    c.send({ cmd: 'auth', reasonCode: RC.CONTINUE_AUTHENTICATION, properties });
    c.resume();
    return;
  }
  pendingConnect.delete(c);
  if (r.reasonCode !== 0) {
    c.broker.emit('authFailed', { clientId: c.identity.clientId, username: p.username, remoteAddress: c.remoteAddress, reasonCode: r.reasonCode });
    return sendConnackError(c, r.reasonCode, r.reasonString);
  }
  acceptConnect(c, p, will, assigned, req.authenticationMethod, r);
}

/** Authenticated: open the session, CONNACK, resume. */
function acceptConnect(c: Connection, p: any, will: Will, assigned: string | undefined, authMethod: string | undefined, r: AuthResult): void {
  const broker = c.broker;
  const limits = broker.limits;
  const v5 = c.protocolVersion === 5;
  const clean = p.clean !== false;
  const clientId = c.identity.clientId;
  // keep alive bounds: Server Keep Alive [MQTT-3.2.2-21]
  let keepAlive: number = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  // (0 = no keep alive: above any bound, so a configured keepAliveMax applies to it too)
  const asked = keepAlive === 0 ? (limits.keepAliveMax < 65535 ? 65536 : 0) : keepAlive;
  if (asked > limits.keepAliveMax || (limits.keepAliveMin > 0 && asked > 0 && asked < limits.keepAliveMin)) {
    const k = Math.min(limits.keepAliveMax, Math.max(limits.keepAliveMin, keepAlive || limits.keepAliveMax));
    if (v5) {
      serverKeepAlive = k;
      keepAlive = k;
    }
  }
  c.keepAlive = keepAlive;
  // session expiry: MQTT 5 property; MQTT 3 clean=false means a session that never expires
  const props = p.properties ?? NO_PROPS;
  let expiry: number = v5 ? (props.sessionExpiryInterval ?? 0) : clean ? 0 : 0xffffffff;
  let expiryProp: number | undefined;
  if (expiry > limits.maxSessionExpiryInterval) {
    expiry = limits.maxSessionExpiryInterval;
    if (v5) expiryProp = expiry; // 3.2.2.3.2: the server's value goes back in CONNACK
  }
  c.cleanStart = clean;
  const { session, sessionPresent } = broker.openSession(clientId, c, clean, expiry, p.username);
  c.session = session;
  session.will = will;
  c.state = ConnState.Connected;
  c.connectedAt = Date.now();
  // [MQTT-3.2.0-1] CONNACK is the first packet the server sends.
  if (v5) {
    const cp: any = {};
    if (expiryProp !== undefined) cp.sessionExpiryInterval = expiryProp;
    if (limits.receiveMaximum < 65535) cp.receiveMaximum = limits.receiveMaximum;
    if (limits.maximumQoS < 2) cp.maximumQoS = limits.maximumQoS;
    if (!limits.retainAvailable) cp.retainAvailable = false;
    cp.maximumPacketSize = limits.maxPacketSize;
    if (assigned) cp.assignedClientIdentifier = assigned; // [MQTT-3.2.2-16]
    cp.topicAliasMaximum = limits.topicAliasMaximum;
    if (!limits.wildcardSubscriptionAvailable) cp.wildcardSubscriptionAvailable = false;
    if (!limits.subscriptionIdentifiersAvailable) cp.subscriptionIdentifiersAvailable = false;
    if (!limits.sharedSubscriptionAvailable) cp.sharedSubscriptionAvailable = false;
    if (serverKeepAlive !== undefined) cp.serverKeepAlive = serverKeepAlive;
    if (props.requestResponseInformation && broker.options.responseInformation !== undefined) {
      cp.responseInformation = broker.options.responseInformation;
    }
    if (authMethod) {
      cp.authenticationMethod = authMethod;
      if (r.authenticationData) cp.authenticationData = r.authenticationData;
    }
    if (r.reasonString && c.requestProblemInfo) cp.reasonString = r.reasonString;
    c.send({ cmd: 'connack', sessionPresent, returnCode: 0, reasonCode: 0, properties: cp });
  } else c.writeFirst(sessionPresent ? CONNACK_V4_PRESENT : CONNACK_V4);
  if (broker.listenerCount('clientConnected') > 0) {
    broker.emit('clientConnected', {
      ...c.identity,
      connectedAt: c.connectedAt,
      keepAlive,
      cleanStart: clean,
      sessionExpiryInterval: expiry,
      subscriptions: [...session.subs.values()],
      inflight: session.inflightCount,
      queued: session.queuedCount,
    });
  }
  broker.resume(session);
  c.resume();
}

const CONNACK_V4 = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const CONNACK_V4_PRESENT = Buffer.from([0x20, 0x02, 0x01, 0x00]);

/** Connections in the middle of enhanced authentication. */
export const pendingConnect = new WeakMap<Connection, { finishAuth: (r: AuthResult | undefined) => void; req: AuthenticateRequest }>();

/** CONNACK with an error and close, [MQTT-3.2.2-7] (MQTT 3.1.1 return codes mapped). */
export function sendConnackError(c: Connection, rc: number, reasonString?: string): void {
  if (c.state === 2 /* connected */ || c.state === 3) return;
  if (c.protocolVersion === 5) {
    const properties: any = reasonString ? { reasonString } : undefined;
    c.send({ cmd: 'connack', sessionPresent: false, reasonCode: rc, properties });
  } else {
    c.send({ cmd: 'connack', sessionPresent: false, returnCode: connackCodeV3(rc) });
  }
  c.close(rc, reasonString);
}
