/**
 * Public types of the broker library (`node-red-contrib-mqtt5-hub/broker`).
 *
 * This file is the contract between the broker core, its pluggable parts (hooks, security,
 * stores, transports) and its users (the Node-RED nodes, the CLI, benchmarks). Extend it;
 * do not break it without updating every user.
 */
import type { Duplex } from 'node:stream';
import type * as http from 'node:http';

/** MQTT protocol level on the wire: 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;

/** MQTT 5 user properties as mqtt-packet represents them: repeated keys become arrays. */
export type UserProperties = Record<string, string | string[]>;

/** PUBLISH properties (MQTT 5, section 3.3.2.3). Names follow mqtt-packet. */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

/** A message as the broker routes and stores it. */
export interface BrokerMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: PublishProperties;
  /** ms since epoch when the broker accepted it (for Message Expiry). */
  receivedAt?: number;
  /** client id of the publisher ('' for broker-originated messages). */
  origin?: string;
}

/** One subscription, MQTT 5 options included (section 3.8.3.1). */
export interface SubscriptionOptions {
  qos: QoS;
  /** No Local */
  nl?: boolean;
  /** Retain As Published */
  rap?: boolean;
  /** Retain Handling 0 | 1 | 2 */
  rh?: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

export interface Subscription extends SubscriptionOptions {
  /** Full filter as the client sent it, `$share/<group>/<filter>` included. */
  topicFilter: string;
}

// ---------------------------------------------------------------------------------------------
// Listeners
// ---------------------------------------------------------------------------------------------

export interface TcpListenerConfig {
  type: 'tcp';
  port: number;
  /** Address to bind; default '0.0.0.0'. */
  host?: string;
  id?: string;
}

export interface TlsListenerConfig {
  type: 'tls';
  port: number;
  host?: string;
  key: string | Buffer;
  cert: string | Buffer;
  ca?: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
  /** Ask for and verify a client certificate; reject clients without a valid one. */
  requireCertificate?: boolean;
  id?: string;
}

export interface WsListenerConfig {
  type: 'ws';
  /** Own HTTP server on this port (give either port or server). */
  port?: number;
  host?: string;
  /** Attach to an existing HTTP server (e.g. Node-RED's) at `path`. */
  server?: http.Server;
  /** URL path, default '/mqtt'. */
  path?: string;
  /** wss: TLS material for an own-port listener. */
  key?: string | Buffer;
  cert?: string | Buffer;
  ca?: string | Buffer | Array<string | Buffer>;
  requireCertificate?: boolean;
  id?: string;
}

export type ListenerConfig = TcpListenerConfig | TlsListenerConfig | WsListenerConfig;

export interface ListenerInfo {
  id: string;
  type: 'tcp' | 'tls' | 'ws' | 'wss';
  host: string;
  /** The bound port (resolved when 0 was asked), or 0 for a ws listener attached to a server. */
  port: number;
  path?: string;
}

// ---------------------------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------------------------

export interface UserConfig {
  username: string;
  /** Plain password (hashed in memory at startup) ... */
  password?: string;
  /** ... or a hash produced by `hashPassword()` (format `scrypt$N$r$p$salt$hash`, base64 parts). */
  passwordHash?: string;
}

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';

export interface AclRule {
  /** Username the rule applies to; omitted or '*' = every client (anonymous included). */
  user?: string;
  /** Topic filter; may use %u (username) and %c (client id) as whole levels or within levels. */
  topic: string;
  access: AclAccess;
}

/** Who is asking, as hooks see it. */
export interface ClientIdentity {
  clientId: string;
  username?: string;
  protocolVersion: ProtocolVersion;
  remoteAddress?: string;
  /** Listener id the client came through ('inprocess' for the in-process API). */
  listener?: string;
  /** Subject of a verified TLS client certificate. */
  certificateSubject?: string;
}

export interface AuthenticateRequest extends ClientIdentity {
  password?: Buffer;
  /** MQTT 5 enhanced authentication. */
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface AuthResult {
  /** MQTT 5 reason code: 0 success, 0x86 bad user name or password, 0x87 not authorized,
   *  0x18 continue authentication (enhanced auth only). */
  reasonCode: number;
  reasonString?: string;
  /** For enhanced auth: data to send back in AUTH / CONNACK. */
  authenticationData?: Buffer;
}

/**
 * Hooks: every one is optional and defaults to "allow". Several hook sets can be chained
 * (`broker.addHooks()`): the first non-undefined answer wins for authenticate, and every set must
 * allow for authorize*.
 */
export interface BrokerHooks {
  authenticate?(req: AuthenticateRequest): AuthResult | undefined | Promise<AuthResult | undefined>;
  /** Enhanced authentication continuation (AUTH packet, section 4.12). */
  authContinue?(req: AuthenticateRequest): AuthResult | undefined | Promise<AuthResult | undefined>;
  /** Return true to allow, false (0x87) or a reason code to refuse. */
  authorizePublish?(client: ClientIdentity, msg: BrokerMessage): boolean | number | Promise<boolean | number>;
  authorizeSubscribe?(client: ClientIdentity, sub: Subscription): boolean | number | Promise<boolean | number>;
  /** Called for every delivery to a subscriber; false = not delivered to that client (read ACL). */
  authorizeRead?(client: ClientIdentity, msg: BrokerMessage): boolean;
}

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

/** A message queued for, or inflight to, one session. */
export interface QueuedMessage {
  /** Per-session monotonically increasing sequence, for ordering. */
  seq: number;
  message: BrokerMessage;
  /** QoS after subscription downgrade. */
  qos: QoS;
  /** Packet identifier once sent (inflight); undefined while only queued. */
  messageId?: number;
  /** For outbound QoS 2: 'publish' sent, waiting PUBREC; 'pubrel' sent, waiting PUBCOMP. */
  state?: 'publish' | 'pubrel';
  /** Subscription identifiers to attach to the delivery. */
  subscriptionIdentifiers?: number[];
}

export interface StoredSession {
  clientId: string;
  protocolVersion: ProtocolVersion;
  username?: string;
  /** Session Expiry Interval in seconds (0xFFFFFFFF = never). */
  expiryInterval: number;
  /** When the client disconnected (ms since epoch), for expiry across restarts. */
  disconnectedAt?: number;
  subscriptions: Subscription[];
  /** Inbound QoS 2 packet ids received and not yet released (PUBREL), [MQTT-4.3.3]. */
  inboundQos2?: number[];
  /** Will message to send after will delay if the client does not return. */
  will?: { message: BrokerMessage; delayInterval: number; dueAt: number };
}

/**
 * Storage behind the broker. All methods are async; a durable implementation must make
 * `storeRetained`, `saveSession`, `enqueue` and `ack*` durable per its flush policy before the
 * promise resolves.
 */
export interface BrokerStore {
  open(): Promise<void>;
  close(): Promise<void>;

  // retained messages ($MQTT-3.3.1-5..7)
  /** Store or, when the payload is empty, delete the retained message for msg.topic. */
  storeRetained(msg: BrokerMessage): Promise<void>;
  loadRetained(): Promise<BrokerMessage[]>;

  // sessions
  saveSession(session: StoredSession): Promise<void>;
  loadSessions(): Promise<StoredSession[]>;
  deleteSession(clientId: string): Promise<void>;

  // per-session outgoing queue (queued + inflight), QoS 1/2 only
  enqueue(clientId: string, msgs: QueuedMessage[]): Promise<void>;
  /** Update an entry's state (messageId assigned, QoS 2 state change). */
  updateQueued(clientId: string, msg: QueuedMessage): Promise<void>;
  /** Remove an entry by seq once acknowledged (PUBACK / PUBCOMP) or dropped. */
  removeQueued(clientId: string, seq: number): Promise<void>;
  loadQueue(clientId: string): Promise<QueuedMessage[]>;
}

// ---------------------------------------------------------------------------------------------
// Limits and options
// ---------------------------------------------------------------------------------------------

export interface BrokerLimits {
  maxConnections: number; // default 10000
  maxPacketSize: number; // bytes, default 1 MiB (advertised as Maximum Packet Size)
  receiveMaximum: number; // inbound QoS>0 inflight per client, default 100
  maxInflight: number; // outbound inflight per session, default 100 (capped by client's Receive Maximum)
  maxQueued: number; // queued QoS>0 messages per session, default 1000
  queueFullPolicy: 'drop-oldest' | 'drop-newest';
  maxTopicLength: number; // default 65535
  maxTopicLevels: number; // default 128
  topicAliasMaximum: number; // inbound aliases the broker accepts, default 65535
  maxSessionExpiryInterval: number; // seconds, default 0xFFFFFFFF
  connectTimeoutMs: number; // CONNECT must arrive within, default 10000
  keepAliveMin: number; // seconds; 0 = no lower bound
  keepAliveMax: number; // seconds; Server Keep Alive is sent when the client asks for more, default 65535
  maximumQoS: QoS; // default 2
  retainAvailable: boolean;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifiersAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
}

export interface BrokerOptions {
  /** Broker identity in $SYS and logs. */
  id?: string;
  listeners?: ListenerConfig[];
  users?: UserConfig[];
  /** Default true when no users are configured, false otherwise. */
  allowAnonymous?: boolean;
  acl?: AclRule[];
  limits?: Partial<BrokerLimits>;
  /** Default: a memory store. */
  store?: BrokerStore;
  hooks?: BrokerHooks;
  /** $SYS refresh interval in seconds; 0 disables $SYS. Default 10. */
  sysInterval?: number;
  /** Response Information sent when a client sets Request Response Information (prefix). */
  responseInformation?: string;
}

// ---------------------------------------------------------------------------------------------
// Runtime information and events
// ---------------------------------------------------------------------------------------------

export interface ClientInfo extends ClientIdentity {
  connectedAt: number;
  keepAlive: number;
  cleanStart: boolean;
  sessionExpiryInterval: number;
  subscriptions: Subscription[];
  inflight: number;
  queued: number;
}

export interface BrokerStats {
  uptime: number; // seconds
  clientsConnected: number;
  clientsTotal: number; // connected + disconnected persistent sessions
  clientsMaximum: number;
  subscriptions: number;
  retainedMessages: number;
  messagesReceived: number;
  messagesSent: number;
  messagesDropped: number; // queue full, too large for client, expired
  bytesReceived: number;
  bytesSent: number;
  inflight: number;
  queued: number;
}

export interface BrokerEvents {
  clientConnected: [info: ClientInfo];
  clientDisconnected: [info: { clientId: string; username?: string; reasonCode: number; reason: string }];
  subscribed: [info: { clientId: string; subscriptions: Subscription[] }];
  unsubscribed: [info: { clientId: string; topicFilters: string[] }];
  /** Every accepted PUBLISH (after authorization), including broker- and in-process ones. */
  published: [msg: BrokerMessage, client: ClientIdentity | null];
  authFailed: [info: { clientId: string; username?: string; remoteAddress?: string; reasonCode: number }];
  messageDropped: [info: { clientId: string; topic: string; reason: string }];
  listening: [info: ListenerInfo];
  listenerError: [info: { listener: ListenerConfig; error: Error }];
  clientError: [info: { clientId?: string; remoteAddress?: string; error: Error }];
  closed: [];
}

// ---------------------------------------------------------------------------------------------
// In-process client API (no socket, no packet encoding; same ACL/QoS/retain semantics)
// ---------------------------------------------------------------------------------------------

export interface InProcessConnectOptions {
  clientId?: string; // '' or omitted = assigned
  username?: string;
  password?: string | Buffer;
  cleanStart?: boolean; // default true
  sessionExpiryInterval?: number; // default 0
  /** Outbound receive maximum for this client (default 65535). */
  receiveMaximum?: number;
  will?: {
    topic: string;
    payload: Buffer | string;
    qos?: QoS;
    retain?: boolean;
    properties?: PublishProperties & { willDelayInterval?: number };
  };
  userProperties?: UserProperties;
  /** Skip authentication (still subject to ACL as `username`). For trusted in-process users. */
  trusted?: boolean;
}

export interface InProcessPublishOptions {
  qos?: QoS;
  retain?: boolean;
  properties?: Omit<PublishProperties, 'topicAlias' | 'subscriptionIdentifier'>;
}

export interface PublishResult {
  /** 0 success, 0x10 no matching subscribers, 0x87 not authorized, 0x97 quota exceeded, ... */
  reasonCode: number;
  reasonString?: string;
}

export interface InProcessMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties;
}

export interface InProcessClientEvents {
  message: [msg: InProcessMessage];
  /** The broker closed this client (takeover, admin disconnect, shutdown). */
  disconnect: [info: { reasonCode: number; reasonString?: string }];
  close: [];
}

export interface InProcessClient {
  readonly clientId: string;
  readonly connected: boolean;
  /** CONNACK-equivalent: sessionPresent and the broker's capabilities. */
  readonly sessionPresent: boolean;
  publish(topic: string, payload: Buffer | string, opts?: InProcessPublishOptions): Promise<PublishResult>;
  /** Resolves with one granted QoS / reason code per subscription (0x00-0x02, or >= 0x80). */
  subscribe(subs: Subscription[], properties?: { userProperties?: UserProperties }): Promise<number[]>;
  unsubscribe(topicFilters: string[]): Promise<number[]>;
  /** Disconnect; `reasonCode` 0x04 sends the will. */
  end(opts?: { reasonCode?: number; sessionExpiryInterval?: number }): Promise<void>;
  on<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this;
  once<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this;
  off<K extends keyof InProcessClientEvents>(ev: K, fn: (...a: InProcessClientEvents[K]) => void): this;
}

/** The broker object returned by createBroker(). */
export interface Broker {
  readonly id: string;
  readonly options: BrokerOptions;
  /** Open the store and start every configured listener; resolves when all listen (rejects on the first failure, after closing the others). */
  listen(): Promise<ListenerInfo[]>;
  /** Start one more listener at run time. */
  addListener(cfg: ListenerConfig): Promise<ListenerInfo>;
  /** Stop one listener (its clients are disconnected with 0x8B server shutting down). */
  removeListener(id: string): Promise<void>;
  listeners(): ListenerInfo[];
  /** Serve an MQTT connection over any duplex stream (tests, custom transports). */
  handleStream(stream: Duplex, meta?: { listener?: string; remoteAddress?: string }): void;
  connectInProcess(opts?: InProcessConnectOptions): Promise<InProcessClient>;
  /** Publish as the broker itself (no ACL). */
  publish(msg: { topic: string; payload: Buffer | string; qos?: QoS; retain?: boolean; properties?: PublishProperties }): Promise<void>;
  clients(): ClientInfo[];
  /** Disconnect a client (MQTT 5 gets DISCONNECT with `reasonCode`, default 0x98 administrative action). */
  disconnectClient(clientId: string, reasonCode?: number): boolean;
  stats(): BrokerStats;
  /** Replace users / ACL / hooks at run time (deploy without restart). */
  setSecurity(opts: { users?: UserConfig[]; allowAnonymous?: boolean; acl?: AclRule[] }): void;
  /** Chain one more hook set after the configured ones (see BrokerHooks for the chain rules). */
  addHooks(hooks: BrokerHooks): void;
  /** Stop listeners, disconnect clients (0x8B), flush and close the store. Resolves within `timeoutMs` (default 5000). */
  close(opts?: { timeoutMs?: number; reasonCode?: number }): Promise<void>;
  on<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this;
  once<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this;
  off<K extends keyof BrokerEvents>(ev: K, fn: (...a: BrokerEvents[K]) => void): this;
}
