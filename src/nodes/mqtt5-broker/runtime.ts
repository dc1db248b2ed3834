/**
 * One running embedded broker owned by an mqtt5-broker node: creates it from a parsed config,
 * starts each listener on its own (so one failing port does not take the others down), reports
 * events to whichever node instance is attached (buffering while parked during a deploy), and
 * applies a changed config with the least disruption (security in place, listeners one by one).
 *
 * No Node-RED import: the node passes a `RuntimeSink` and Node-RED's HTTP server.
 */
import type * as http from 'node:http';
import { createBroker } from '../../broker';
import { FileStore } from '../../broker/store/file';
import type { Broker, BrokerMessage, BrokerStore, ClientIdentity, ListenerConfig } from '../../broker/types';
import { registerBroker, unregisterBroker } from '../shared/broker-registry';
import { diffConfig, type BrokerNodeConfig, type ListenerSpec } from './config';

/** Where the runtime reports to: the current node instance. */
export interface RuntimeSink {
  /** An event for output 1: `topic` is the event name. */
  event(topic: string, payload: Record<string, unknown>): void;
  /** An accepted publish (the node applies its copy filter). */
  published(msg: BrokerMessage, client: ClientIdentity | null): void;
  /** Listeners or the client count changed. */
  statusChanged(): void;
  warn(text: string): void;
}

export interface ListenerState {
  spec: ListenerSpec;
  state: 'starting' | 'listening' | 'failed';
  /** Bound port (useful when 0 was asked). */
  port?: number;
  error?: string;
}

type Buffered = { kind: 'event'; topic: string; payload: Record<string, unknown> } | { kind: 'published'; msg: BrokerMessage; client: ClientIdentity | null };

/** Events kept while no node instance is attached (between close and adoption during a deploy). */
const PARK_BUFFER_MAX = 2000;
/** How long to keep retrying a port that is still in use (e.g. held by a process shutting down). */
const ADDRINUSE_RETRY_MS = 4000;

export interface RuntimeDeps {
  nodeId: string;
  /** Node-RED's HTTP server, for the ws-path listener. */
  server?: http.Server;
  /** Store warnings before a sink is attached (e.g. corrupt files found while opening). */
  warn(text: string): void;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'EADDRINUSE') return 'port in use (EADDRINUSE)';
  if (err && err.code === 'EACCES') return 'permission denied (EACCES; ports below 1024 need privileges)';
  if (err && err.code === 'EADDRNOTAVAIL') return 'address not available on this machine (EADDRNOTAVAIL)';
  return err && err.message ? err.message : String(e);
}

export class BrokerRuntime {
  readonly broker: Broker;
  config: BrokerNodeConfig;
  readonly listenerStates = new Map<string, ListenerState>();
  private sink: RuntimeSink | null = null;
  private buffer: Buffered[] = [];
  private droppedWhileParked = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly deps: RuntimeDeps,
    config: BrokerNodeConfig,
    broker: Broker,
  ) {
    this.config = config;
    this.broker = broker;
    this.wireEvents();
  }

  /** Creates the broker, opens its store and starts every listener (failures are kept in listenerStates). */
  static async start(deps: RuntimeDeps, config: BrokerNodeConfig, sink: RuntimeSink | null): Promise<BrokerRuntime> {
    const core = config.core;
    let store: BrokerStore | undefined;
    const ref: { rt?: BrokerRuntime } = {};
    if (core.persistence === 'file' && core.dir) {
      store = new FileStore({
        dir: core.dir,
        flush: core.flush,
        flushIntervalMs: core.flushIntervalMs,
        onWarning: (text: string) => {
          const s = ref.rt ? ref.rt.sink : sink;
          if (s) s.warn(text);
          else deps.warn(text);
        },
      });
    }
    const broker = createBroker({
      id: deps.nodeId,
      listeners: [],
      users: config.security.users,
      allowAnonymous: config.security.allowAnonymous,
      acl: config.security.acl,
      limits: core.limits,
      sysInterval: core.sysInterval,
      ...(store ? { store } : {}),
    });
    const created = new BrokerRuntime(deps, config, broker);
    ref.rt = created;
    created.sink = sink;
    try {
      await broker.listen(); // opens the store (loads sessions, retained, queues)
    } catch (e) {
      await created.close(2000);
      throw new Error(`broker failed to start: ${errText(e)}`, { cause: e });
    }
    await created.startListeners(config.listeners);
    if (!created.closing) registerBroker(deps.nodeId, broker);
    return created;
  }

  private wireEvents(): void {
    const b = this.broker;
    b.on('clientConnected', (c) => {
      this.emit({
        kind: 'event',
        topic: 'connected',
        payload: {
          clientId: c.clientId,
          username: c.username,
          address: c.remoteAddress,
          protocolVersion: c.protocolVersion,
          listener: c.listener,
          cleanStart: c.cleanStart,
          keepAlive: c.keepAlive,
          sessionExpiryInterval: c.sessionExpiryInterval,
          ...(c.certificateSubject ? { certificateSubject: c.certificateSubject } : {}),
        },
      });
      this.sink?.statusChanged();
    });
    b.on('clientDisconnected', (d) => {
      this.emit({ kind: 'event', topic: 'disconnected', payload: { clientId: d.clientId, username: d.username, reasonCode: d.reasonCode, reason: d.reason } });
      this.sink?.statusChanged();
    });
    b.on('subscribed', (s) => this.emit({ kind: 'event', topic: 'subscribed', payload: { clientId: s.clientId, subscriptions: s.subscriptions } }));
    b.on('unsubscribed', (u) => this.emit({ kind: 'event', topic: 'unsubscribed', payload: { clientId: u.clientId, topicFilters: u.topicFilters } }));
    b.on('authFailed', (a) =>
      this.emit({ kind: 'event', topic: 'authFailed', payload: { clientId: a.clientId, username: a.username, address: a.remoteAddress, reasonCode: a.reasonCode } }),
    );
    b.on('published', (msg, client) => this.emit({ kind: 'published', msg, client }));
    b.on('listenerError', (e) => {
      const id = e.listener.id;
      const st = id ? this.listenerStates.get(id) : undefined;
      if (st && st.state === 'listening') {
        st.state = 'failed';
        st.error = errText(e.error);
        this.sink?.statusChanged();
      }
    });
  }

  private emit(ev: Buffered): void {
    const s = this.sink;
    if (s) {
      if (ev.kind === 'event') s.event(ev.topic, ev.payload);
      else s.published(ev.msg, ev.client);
      return;
    }
    if (this.buffer.length >= PARK_BUFFER_MAX) {
      this.buffer.shift();
      this.droppedWhileParked++;
    }
    this.buffer.push(ev);
  }

  /** Attach a node instance; replays what happened while none was attached. */
  attach(sink: RuntimeSink): void {
    this.sink = sink;
    const pending = this.buffer;
    this.buffer = [];
    if (this.droppedWhileParked > 0) {
      sink.warn(`${this.droppedWhileParked} broker event(s) during the deploy were not reported (more than ${PARK_BUFFER_MAX})`);
      this.droppedWhileParked = 0;
    }
    for (const ev of pending) this.emit(ev);
    sink.statusChanged();
  }

  detach(): void {
    this.sink = null;
  }

  get attached(): boolean {
    return this.sink !== null;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  private toListenerConfig(spec: ListenerSpec): ListenerConfig {
    // WebSocket on Node-RED's server: the broker's transport only takes upgrades for its path, so
    // the editor's /comms and websocket nodes keep working.
    if (spec.type === 'ws-path') return { type: 'ws', id: spec.id, server: this.deps.server, path: spec.path };
    if (spec.type === 'tcp') return { type: 'tcp', id: spec.id, host: spec.host, port: spec.port };
    if (spec.type === 'ws') {
      const t = spec.tls;
      if (!t) return { type: 'ws', id: spec.id, host: spec.host, port: spec.port, path: spec.path };
      return {
        type: 'ws',
        id: spec.id,
        host: spec.host,
        port: spec.port,
        path: spec.path,
        key: t.key!,
        cert: t.cert!,
        ...(t.ca ? { ca: t.ca } : {}),
        requireCertificate: spec.requireCertificate === true,
      };
    }
    const t = spec.tls;
    return {
      type: 'tls',
      id: spec.id,
      host: spec.host,
      port: spec.port,
      key: t.key!,
      cert: t.cert!,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.passphrase ? { passphrase: t.passphrase } : {}),
      requireCertificate: spec.requireCertificate,
    };
  }

  private async startListener(spec: ListenerSpec): Promise<void> {
    const st: ListenerState = { spec, state: 'starting' };
    this.listenerStates.set(spec.id, st);
    if (spec.type === 'ws-path' && !this.deps.server) {
      st.state = 'failed';
      st.error = 'Node-RED HTTP server not available';
      return;
    }
    const deadline = Date.now() + ADDRINUSE_RETRY_MS;
    for (;;) {
      if (this.closing) return;
      try {
        const info = await this.broker.addListener(this.toListenerConfig(spec));
        st.state = 'listening';
        st.port = info.port;
        delete st.error;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && Date.now() < deadline) {
          await delay(200);
          continue;
        }
        st.state = 'failed';
        st.error = errText(e);
        return;
      }
    }
  }

  private async startListeners(specs: ListenerSpec[]): Promise<void> {
    await Promise.all(specs.map((s) => this.startListener(s)));
    this.sink?.statusChanged();
  }

  private async stopListener(id: string): Promise<void> {
    const st = this.listenerStates.get(id);
    this.listenerStates.delete(id);
    if (!st) return;
    if (st.state !== 'listening') return;
    try {
      await this.broker.removeListener(id);
    } catch {
      // already gone
    }
  }

  /**
   * Apply a new config of the same node. Returns false when the core changed and the broker must be
   * replaced (the caller closes this runtime and starts a new one).
   */
  async reconfigure(next: BrokerNodeConfig): Promise<boolean> {
    const d = diffConfig(this.config.hashes, next.hashes);
    if (d.restart) return false;
    if (d.security) this.broker.setSecurity({ users: next.security.users, allowAnonymous: next.security.allowAnonymous, acl: next.security.acl });
    // Failed listeners are retried on every deploy even when unchanged.
    for (const [id, st] of this.listenerStates) {
      if (st.state === 'failed' && !d.removeListeners.includes(id)) {
        d.removeListeners.push(id);
        if (next.hashes.listeners[id]) d.addListeners.push(id);
      }
    }
    for (const id of d.removeListeners) await this.stopListener(id);
    this.config = next;
    await this.startListeners(next.listeners.filter((l) => d.addListeners.includes(l.id)));
    return true;
  }

  /** Connected clients. */
  clientCount(): number {
    try {
      return this.broker.stats().clientsConnected;
    } catch {
      return 0;
    }
  }

  /** Stop everything: clients get 0x8B (server shutting down). Idempotent. */
  close(timeoutMs = 4000): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        this.sink = null;
        this.buffer = [];
        unregisterBroker(this.deps.nodeId, this.broker);
        try {
          await this.broker.close({ timeoutMs, reasonCode: 0x8b });
        } catch (e) {
          this.deps.warn(`broker close: ${errText(e)}`);
        }
      })();
    }
    return this.closing;
  }
}
