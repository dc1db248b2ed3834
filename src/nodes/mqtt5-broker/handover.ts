/**
 * Deploy handover. Node-RED closes every node of a full deploy (close(removed=false)) and then
 * constructs new instances with the same ids. Stopping the broker there would drop every client, so
 * a closing broker node parks its running broker here instead; the new instance with the same id
 * adopts it and applies only what changed. A parked broker nobody adopts is closed when the flows
 * have started (it was disabled or its flow failed), when the runtime stops, or after a grace period.
 *
 * The map lives on globalThis (Symbol.for key) so every copy of this module shares it.
 */
import type { BrokerRuntime } from './runtime';

interface Parked {
  runtime: BrokerRuntime;
  timer: NodeJS.Timeout;
}

interface HandoverState {
  parked: Map<string, Parked>;
  /** Closes in progress, so tests and the next start can wait for them. */
  closing: Set<Promise<void>>;
  /** Event emitters already hooked (the node module may be loaded more than once). */
  hooked: WeakSet<object>;
  /** The flows are being stopped for good (runtime stop), not for a deploy. */
  shuttingDown: boolean;
}

const KEY = Symbol.for('node-red-contrib-mqtt5-hub.broker-handover');
const g = globalThis as unknown as Record<symbol, HandoverState | undefined>;
const state: HandoverState = g[KEY] ?? (g[KEY] = { parked: new Map(), closing: new Set(), hooked: new WeakSet(), shuttingDown: false });

/** Longest time a broker waits for its new node instance. */
export const GRACE_MS = 10000;

/** Close a runtime and track the close. */
export function closeRuntime(rt: BrokerRuntime, timeoutMs = 4000): Promise<void> {
  const p = rt.close(timeoutMs);
  state.closing.add(p);
  void p.finally(() => state.closing.delete(p));
  return p;
}

/** Park a runtime for `nodeId` until a new instance takes it (any earlier parked one is closed). */
export function park(nodeId: string, rt: BrokerRuntime, graceMs = GRACE_MS): void {
  const old = state.parked.get(nodeId);
  if (old && old.runtime !== rt) {
    clearTimeout(old.timer);
    void closeRuntime(old.runtime);
  }
  rt.detach();
  const timer = setTimeout(() => {
    if (state.parked.get(nodeId)?.runtime === rt) {
      state.parked.delete(nodeId);
      void closeRuntime(rt);
    }
  }, graceMs);
  timer.unref();
  state.parked.set(nodeId, { runtime: rt, timer });
}

/** Take the parked runtime of `nodeId`, if any (synchronous, so a later sweep cannot close it). */
export function take(nodeId: string): BrokerRuntime | undefined {
  const p = state.parked.get(nodeId);
  if (!p) return undefined;
  clearTimeout(p.timer);
  state.parked.delete(nodeId);
  return p.runtime;
}

/** Close every parked runtime (nobody is going to adopt them). */
export function closeAllParked(): Promise<void> {
  const all: Promise<void>[] = [];
  for (const [id, p] of state.parked) {
    clearTimeout(p.timer);
    state.parked.delete(id);
    all.push(closeRuntime(p.runtime));
  }
  return Promise.all(all).then(() => undefined);
}

/** Resolves when every close started so far has finished. */
export async function settled(): Promise<void> {
  while (state.closing.size > 0) await Promise.all([...state.closing]);
}

/**
 * True between 'flows:stopping' and the next start when the stop is not a deploy: Node-RED's runtime
 * stop (and "restart flows") passes no deploy diff, so nodes close for good and Node-RED waits for
 * the store to be flushed and closed before the process exits.
 */
export function isShuttingDown(): boolean {
  return state.shuttingDown;
}

export function parkedIds(): string[] {
  return [...state.parked.keys()];
}

interface RuntimeEventEmitter {
  on(ev: string, fn: (...a: any[]) => void): unknown;
}

/**
 * Hook Node-RED's runtime events once per emitter: after flows start, unadopted brokers are closed;
 * when the runtime stops (not for a deploy), every parked broker is closed.
 */
export function hookRuntimeEvents(events: RuntimeEventEmitter | undefined): void {
  if (!events || typeof events.on !== 'function' || state.hooked.has(events)) return;
  state.hooked.add(events);
  events.on('flows:stopping', (ev: { diff?: Record<string, unknown> }) => {
    // a deploy's diff comes from diffConfigs (it always has globalConfigChanged); a runtime stop's does not
    state.shuttingDown = !(ev && ev.diff && 'globalConfigChanged' in ev.diff);
  });
  events.on('flows:started', () => {
    state.shuttingDown = false;
    void closeAllParked();
  });
  events.on('runtime-event', (ev: { id?: string; payload?: { state?: string; deploy?: boolean } }) => {
    if (ev && ev.id === 'runtime-state' && ev.payload && ev.payload.state === 'stop' && !ev.payload.deploy) {
      void closeAllParked();
    }
  });
}
