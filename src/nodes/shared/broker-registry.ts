/**
 * Process-wide registry of embedded brokers run by `mqtt5-broker` nodes, so that `mqtt5-client`
 * config nodes in the same Node-RED reach them in-process (no socket).
 *
 * Keyed by the broker node's id. Kept on globalThis under a Symbol.for() key so that every copy of
 * this module (e.g. loaded through different paths) sees the same registry.
 */
import type { Broker } from '../../broker/types';

type Listener = (broker: Broker | undefined) => void;

interface Registry {
  brokers: Map<string, Broker>;
  listeners: Map<string, Set<Listener>>;
}

const KEY = Symbol.for('node-red-contrib-mqtt5-hub.broker-registry');
const g = globalThis as unknown as Record<symbol, Registry | undefined>;
const registry: Registry = g[KEY] ?? (g[KEY] = { brokers: new Map(), listeners: new Map() });

function notify(nodeId: string, broker: Broker | undefined): void {
  for (const fn of registry.listeners.get(nodeId) ?? []) {
    try {
      fn(broker);
    } catch {
      // a listener's failure must not stop the others
    }
  }
}

/** Announce the running broker of broker node `nodeId` (replaces any earlier one). */
export function registerBroker(nodeId: string, broker: Broker): void {
  registry.brokers.set(nodeId, broker);
  notify(nodeId, broker);
}

/** Withdraw it; only if `broker` is still the registered one (a handover may have replaced it). */
export function unregisterBroker(nodeId: string, broker: Broker): void {
  if (registry.brokers.get(nodeId) !== broker) return;
  registry.brokers.delete(nodeId);
  notify(nodeId, undefined);
}

export function getBroker(nodeId: string): Broker | undefined {
  return registry.brokers.get(nodeId);
}

/**
 * Watch broker node `nodeId`: `fn` is called at once with the current broker (or undefined), then
 * on every register/unregister. Returns a function that stops watching.
 */
export function watchBroker(nodeId: string, fn: Listener): () => void {
  let set = registry.listeners.get(nodeId);
  if (!set) registry.listeners.set(nodeId, (set = new Set()));
  set.add(fn);
  fn(registry.brokers.get(nodeId));
  return () => {
    const s = registry.listeners.get(nodeId);
    if (!s) return;
    s.delete(fn);
    if (s.size === 0) registry.listeners.delete(nodeId);
  };
}
