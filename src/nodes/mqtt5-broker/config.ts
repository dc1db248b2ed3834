/**
 * mqtt5-broker node configuration: the raw object the editor saves (plus credentials) is
 * validated and normalised here into the pieces the runtime needs, each with its own hash so a
 * redeploy restarts only what changed:
 *
 *   core       store, limits, $SYS interval  -> a change needs a new broker (clients get 0x8B)
 *   security   users, anonymous, ACL          -> broker.setSecurity(), clients stay connected
 *   listeners  one entry per listener         -> removeListener/addListener for the changed ones
 *   outputs    publish-copy filter, format    -> no broker change at all
 *
 * Pure functions only (no Node-RED, no sockets), so they are unit-testable.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { AclAccess, AclRule, BrokerLimits, UserConfig } from '../../broker/types';

/** The node's properties as saved in the flow file (everything may be missing or a string). */
export interface RawBrokerConfig {
  id: string;
  name?: string;
  tcpEnabled?: boolean | string;
  tcpPort?: number | string;
  tcpHost?: string;
  tlsEnabled?: boolean | string;
  tlsPort?: number | string;
  tlsHost?: string;
  tls?: string;
  tlsRequireCert?: boolean | string;
  wsEnabled?: boolean | string;
  wsMode?: string;
  wsPort?: number | string;
  wsHost?: string;
  wsPath?: string;
  /** Serve the WebSocket port as wss:// with the TLS configuration chosen for the TLS listener. */
  wsTls?: boolean | string;
  allowAnonymous?: boolean | string;
  acl?: unknown;
  maxConnections?: number | string;
  maxPacketSize?: number | string;
  maxInflight?: number | string;
  maxQueued?: number | string;
  maxSessionExpiry?: number | string;
  persistence?: string;
  flush?: string;
  flushInterval?: number | string;
  sysInterval?: number | string;
  copyTopic?: string;
  copyPayload?: string;
}

export interface RawCredentials {
  /** JSON text: [{"username": "...", "password": "..."}] */
  users?: string;
}

/** TLS material, as read from a Node-RED tls-config node. */
export interface TlsMaterial {
  key?: string | Buffer;
  cert?: string | Buffer;
  ca?: string | Buffer;
  passphrase?: string;
}

export type ListenerSpec =
  | { id: 'tcp'; type: 'tcp'; host: string; port: number }
  | { id: 'tls'; type: 'tls'; host: string; port: number; requireCertificate: boolean; tls: TlsMaterial }
  /** WebSocket on its own port; with `tls` it is wss:// (same TLS configuration and client-certificate option as the TLS listener). */
  | { id: 'ws'; type: 'ws'; host: string; port: number; path: string; tls?: TlsMaterial; requireCertificate?: boolean }
  /** WebSocket on Node-RED's own HTTP server; `path` already includes httpNodeRoot. */
  | { id: 'ws'; type: 'ws-path'; path: string };

export interface CoreConfig {
  persistence: 'memory' | 'file';
  /** Store directory for 'file'. */
  dir?: string;
  flush: 'always' | 'interval';
  flushIntervalMs: number;
  limits: Partial<BrokerLimits>;
  sysInterval: number;
}

export interface SecurityConfig {
  users: UserConfig[];
  allowAnonymous: boolean;
  acl: AclRule[];
}

export interface OutputConfig {
  /** Topic filters whose publishes are copied to output 2 (empty = off). */
  copyFilters: string[];
  copyPayload: 'auto' | 'string' | 'buffer';
}

export interface BrokerNodeConfig {
  core: CoreConfig;
  security: SecurityConfig;
  listeners: ListenerSpec[];
  outputs: OutputConfig;
  hashes: { core: string; security: string; listeners: Record<string, string> };
}

export interface ParseContext {
  /** RED.settings.userDir */
  userDir?: string;
  /** RED.settings.httpNodeRoot */
  httpNodeRoot?: string | false;
  /** Resolves a tls-config node id to its material; returns an error text when unusable. */
  tlsLookup(id: string): TlsMaterial | string;
  /** Is Node-RED's HTTP server available (RED.server)? */
  hasHttpServer: boolean;
}

export class ConfigError extends Error {}

export const DEFAULTS = {
  tcpPort: 1883,
  tlsPort: 8883,
  wsPort: 8080,
  wsPath: '/mqtt',
  maxConnections: 10000,
  maxPacketSize: 1048576,
  maxInflight: 100,
  maxQueued: 1000,
  maxSessionExpiry: 0xffffffff,
  flushIntervalMs: 1000,
  sysInterval: 10,
} as const;

function bool(v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1 || v === '1') return true;
  if (v === 'false' || v === 0 || v === '0') return false;
  return dflt;
}

function int(v: unknown, what: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return dflt;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max} (got "${String(v)}")`);
  }
  return n;
}

function host(v: unknown): string {
  const h = typeof v === 'string' ? v.trim() : '';
  return h === '' ? '0.0.0.0' : h;
}

/** Joins httpNodeRoot and a path into one absolute URL path without duplicate slashes. */
export function joinHttpPath(root: string | false | undefined, p: string): string {
  const r = typeof root === 'string' ? root : '/';
  const joined = `/${r}/${p}`.replace(/\/+/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

const ACCESS: Record<string, AclAccess> = {
  read: 'read',
  write: 'write',
  readwrite: 'readwrite',
  both: 'readwrite',
  deny: 'deny',
};

/** Validates an ACL or copy filter; %u / %c placeholders are allowed inside levels. */
export function checkFilter(filter: string, what: string): void {
  if (filter.length === 0) throw new ConfigError(`${what}: topic filter is empty`);
  if (filter.includes('\u0000')) throw new ConfigError(`${what}: topic filter contains a NUL character`);
  const levels = filter.split('/');
  levels.forEach((l, i) => {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) {
      throw new ConfigError(`${what}: invalid topic filter "${filter}" (# must be a whole level and the last one)`);
    }
    if (l.includes('+') && l !== '+') {
      throw new ConfigError(`${what}: invalid topic filter "${filter}" (+ must be a whole level)`);
    }
  });
}

export function parseUsers(text: string | undefined): UserConfig[] {
  if (text === undefined || text.trim() === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`users: credentials are not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(list)) throw new ConfigError('users: credentials must be a JSON array');
  const seen = new Set<string>();
  return list.map((u: unknown, i) => {
    const o = (u ?? {}) as Record<string, unknown>;
    const username = typeof o.username === 'string' ? o.username : '';
    if (username === '') throw new ConfigError(`users: entry ${i + 1} has no user name`);
    if (seen.has(username)) throw new ConfigError(`users: user "${username}" is listed twice`);
    seen.add(username);
    if (typeof o.passwordHash === 'string' && o.passwordHash !== '') return { username, passwordHash: o.passwordHash };
    const password = typeof o.password === 'string' ? o.password : '';
    if (password === '') throw new ConfigError(`users: user "${username}" has no password`);
    return { username, password };
  });
}

export function parseAcl(raw: unknown): AclRule[] {
  if (raw === undefined || raw === null || raw === '') return [];
  if (!Array.isArray(raw)) throw new ConfigError('ACL: rules must be a list');
  return raw.map((r: unknown, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    const topic = typeof o.topic === 'string' ? o.topic.trim() : '';
    checkFilter(topic, `ACL rule ${i + 1}`);
    const access = ACCESS[String(o.access ?? '')];
    if (!access) throw new ConfigError(`ACL rule ${i + 1}: access must be read, write, both or deny (got "${String(o.access)}")`);
    const user = typeof o.user === 'string' && o.user.trim() !== '' ? o.user.trim() : '*';
    return { user, topic, access };
  });
}

function hash(v: unknown): string {
  return createHash('sha256')
    .update(
      JSON.stringify(v, (_k, x: unknown) => {
        if (Buffer.isBuffer(x)) return `buf:${x.toString('base64')}`;
        if (x && typeof x === 'object' && (x as { type?: unknown }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
          return `buf:${Buffer.from((x as { data: number[] }).data).toString('base64')}`;
        }
        return x;
      }),
    )
    .digest('hex')
    .slice(0, 32);
}

/** Validates everything; throws ConfigError with a message fit for node.error and the status. */
export function parseConfig(n: RawBrokerConfig, creds: RawCredentials | undefined, ctx: ParseContext): BrokerNodeConfig {
  // listeners
  const listeners: ListenerSpec[] = [];
  if (bool(n.tcpEnabled, true)) {
    listeners.push({ id: 'tcp', type: 'tcp', host: host(n.tcpHost), port: int(n.tcpPort, 'TCP port', DEFAULTS.tcpPort, 0, 65535) });
  }
  const requireCertificate = bool(n.tlsRequireCert, false);
  const tlsMaterial = (what: string): TlsMaterial => {
    if (!n.tls) throw new ConfigError(`${what}: choose a TLS configuration (tls-config node)`);
    const tls = ctx.tlsLookup(n.tls);
    if (typeof tls === 'string') throw new ConfigError(`${what}: ${tls}`);
    if (!tls.key || !tls.cert) throw new ConfigError(`${what}: the TLS configuration has no private key and certificate`);
    if (requireCertificate && !tls.ca) {
      throw new ConfigError(`${what}: requiring client certificates needs a CA certificate in the TLS configuration`);
    }
    return tls;
  };
  if (bool(n.tlsEnabled, false)) {
    const port = int(n.tlsPort, 'TLS port', DEFAULTS.tlsPort, 0, 65535);
    listeners.push({ id: 'tls', type: 'tls', host: host(n.tlsHost), port, requireCertificate, tls: tlsMaterial('TLS listener') });
  }
  if (bool(n.wsEnabled, false)) {
    const p = (n.wsPath ?? '').trim() || DEFAULTS.wsPath;
    if (!p.startsWith('/') || /[?#\s]/.test(p)) throw new ConfigError(`WebSocket path must start with / and contain no ?, # or spaces (got "${p}")`);
    if (n.wsMode === 'path') {
      if (!ctx.hasHttpServer) throw new ConfigError('WebSocket path: Node-RED has no HTTP server (httpNodeRoot disabled?)');
      if (ctx.httpNodeRoot === false) throw new ConfigError('WebSocket path: httpNodeRoot is disabled in settings.js; use a WebSocket port instead');
      listeners.push({ id: 'ws', type: 'ws-path', path: joinHttpPath(ctx.httpNodeRoot, p) });
    } else {
      const port = int(n.wsPort, 'WebSocket port', DEFAULTS.wsPort, 0, 65535);
      if (bool(n.wsTls, false)) {
        listeners.push({ id: 'ws', type: 'ws', host: host(n.wsHost), port, path: p, tls: tlsMaterial('secure WebSocket (wss)'), requireCertificate });
      } else {
        listeners.push({ id: 'ws', type: 'ws', host: host(n.wsHost), port, path: p });
      }
    }
  }
  if (listeners.length === 0) throw new ConfigError('no listener enabled: enable TCP, TLS or WebSocket');
  const bound = new Map<number, string>();
  for (const l of listeners) {
    if (l.type === 'ws-path' || l.port === 0) continue;
    const other = bound.get(l.port);
    if (other) throw new ConfigError(`${other.toUpperCase()} and ${l.id.toUpperCase()} listeners both use port ${l.port}`);
    bound.set(l.port, l.id);
  }

  // security
  const users = parseUsers(creds?.users);
  const security: SecurityConfig = {
    users,
    allowAnonymous: bool(n.allowAnonymous, users.length === 0),
    acl: parseAcl(n.acl),
  };

  // core
  const persistence = n.persistence === 'file' ? 'file' : n.persistence === undefined || n.persistence === '' || n.persistence === 'memory' ? 'memory' : null;
  if (!persistence) throw new ConfigError(`persistence must be "memory" or "file" (got "${String(n.persistence)}")`);
  const flush = n.flush === 'interval' ? 'interval' : n.flush === undefined || n.flush === '' || n.flush === 'always' ? 'always' : null;
  if (!flush) throw new ConfigError(`flush policy must be "always" or "interval" (got "${String(n.flush)}")`);
  let dir: string | undefined;
  if (persistence === 'file') {
    if (!ctx.userDir) throw new ConfigError('durable persistence needs the Node-RED user directory (settings.userDir)');
    dir = path.join(ctx.userDir, 'mqtt5-hub', n.id.replace(/[^A-Za-z0-9._-]/g, '_'));
  }
  const core: CoreConfig = {
    persistence,
    ...(dir !== undefined ? { dir } : {}),
    flush,
    flushIntervalMs: int(n.flushInterval, 'flush interval (ms)', DEFAULTS.flushIntervalMs, 10, 3600000),
    limits: {
      maxConnections: int(n.maxConnections, 'max connections', DEFAULTS.maxConnections, 1, 10000000),
      maxPacketSize: int(n.maxPacketSize, 'max packet size', DEFAULTS.maxPacketSize, 64, 268435455),
      maxInflight: int(n.maxInflight, 'max inflight', DEFAULTS.maxInflight, 1, 65535),
      maxQueued: int(n.maxQueued, 'max queued per session', DEFAULTS.maxQueued, 1, 10000000),
      maxSessionExpiryInterval: int(n.maxSessionExpiry, 'session expiry maximum (s)', DEFAULTS.maxSessionExpiry, 0, 0xffffffff),
    },
    sysInterval: int(n.sysInterval, '$SYS interval (s)', DEFAULTS.sysInterval, 0, 86400),
  };

  // outputs
  const copyFilters = (n.copyTopic ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  copyFilters.forEach((f) => checkFilter(f, 'publish copy'));
  const cp = n.copyPayload;
  const outputs: OutputConfig = { copyFilters, copyPayload: cp === 'string' || cp === 'buffer' ? cp : 'auto' };

  const listenerHashes: Record<string, string> = {};
  for (const l of listeners) listenerHashes[l.id] = hash(l);
  return {
    core,
    security,
    listeners,
    outputs,
    hashes: { core: hash(core), security: hash(security), listeners: listenerHashes },
  };
}

/** What differs between two configs, in terms of what must be redone. */
export function diffConfig(
  oldH: BrokerNodeConfig['hashes'],
  newH: BrokerNodeConfig['hashes'],
): { restart: boolean; security: boolean; removeListeners: string[]; addListeners: string[] } {
  const removeListeners: string[] = [];
  const addListeners: string[] = [];
  for (const id of Object.keys(oldH.listeners)) {
    if (newH.listeners[id] !== oldH.listeners[id]) removeListeners.push(id);
  }
  for (const id of Object.keys(newH.listeners)) {
    if (newH.listeners[id] !== oldH.listeners[id]) addListeners.push(id);
  }
  return { restart: oldH.core !== newH.core, security: oldH.security !== newH.security, removeListeners, addListeners };
}

/** MQTT topic filter match (the one the mqtt5 client nodes use). */
export { topicMatches } from '../shared/topics';
