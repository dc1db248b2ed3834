/**
 * MemoryStore: the default BrokerStore, everything in Maps, nothing durable.
 *
 * It keeps the objects it is given (no copies): callers hand over ownership and must not mutate a
 * message after storing it (updateQueued replaces the entry with the object passed).
 * deleteSession also drops that session's queue. Queues are kept in seq order. updateQueued inserts
 * the entry when it is not queued (upsert), so an inflight message is never lost; removeQueued of an
 * unknown seq is a no-op.
 */
import type { BrokerMessage, BrokerStore, QueuedMessage, StoredSession } from '../types';

/** Per-session queue: entries by seq; `sorted` stays true while seqs arrive increasing (the normal case). */
class SessionQueue {
  readonly entries = new Map<number, QueuedMessage>();
  private lastSeq = -Infinity;
  private sorted = true;

  put(m: QueuedMessage): void {
    if (!this.entries.has(m.seq)) {
      if (m.seq < this.lastSeq) this.sorted = false;
      else this.lastSeq = m.seq;
    }
    this.entries.set(m.seq, m);
  }

  list(): QueuedMessage[] {
    const out = Array.from(this.entries.values());
    if (!this.sorted) out.sort((a, b) => a.seq - b.seq);
    return out;
  }
}

export class MemoryState {
  readonly retained = new Map<string, BrokerMessage>();
  readonly sessions = new Map<string, StoredSession>();
  readonly queues = new Map<string, SessionQueue>();

  setRetained(msg: BrokerMessage): void {
    if (msg.payload.length === 0) this.retained.delete(msg.topic);
    else this.retained.set(msg.topic, msg);
  }

  deleteRetained(topic: string): void {
    this.retained.delete(topic);
  }

  saveSession(s: StoredSession): void {
    this.sessions.set(s.clientId, s);
  }

  deleteSession(clientId: string): void {
    this.sessions.delete(clientId);
    this.queues.delete(clientId);
  }

  enqueue(clientId: string, msgs: readonly QueuedMessage[]): void {
    if (msgs.length === 0) return;
    let q = this.queues.get(clientId);
    if (!q) this.queues.set(clientId, (q = new SessionQueue()));
    for (const m of msgs) q.put(m);
  }

  /** Replaces the entry with msg.seq, or inserts it when there is none; returns whether it existed. */
  update(clientId: string, msg: QueuedMessage): boolean {
    const existed = this.queues.get(clientId)?.entries.has(msg.seq) ?? false;
    this.enqueue(clientId, [msg]);
    return existed;
  }

  /** Changes the delivery fields of an existing entry, keeping its message. */
  patch(clientId: string, seq: number, fields: Omit<QueuedMessage, 'seq' | 'message'>): boolean {
    const q = this.queues.get(clientId);
    const cur = q?.entries.get(seq);
    if (!q || !cur) return false;
    q.entries.set(seq, { ...fields, seq, message: cur.message });
    return true;
  }

  remove(clientId: string, seq: number): void {
    const q = this.queues.get(clientId);
    if (!q) return;
    q.entries.delete(seq);
    if (q.entries.size === 0) this.queues.delete(clientId);
  }

  queue(clientId: string): QueuedMessage[] {
    return this.queues.get(clientId)?.list() ?? [];
  }

  clear(): void {
    this.retained.clear();
    this.sessions.clear();
    this.queues.clear();
  }
}

export class MemoryStore implements BrokerStore {
  protected readonly state = new MemoryState();

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async storeRetained(msg: BrokerMessage): Promise<void> {
    this.state.setRetained(msg);
  }

  async loadRetained(): Promise<BrokerMessage[]> {
    return Array.from(this.state.retained.values());
  }

  async saveSession(session: StoredSession): Promise<void> {
    this.state.saveSession(session);
  }

  async loadSessions(): Promise<StoredSession[]> {
    return Array.from(this.state.sessions.values());
  }

  async deleteSession(clientId: string): Promise<void> {
    this.state.deleteSession(clientId);
  }

  async enqueue(clientId: string, msgs: QueuedMessage[]): Promise<void> {
    this.state.enqueue(clientId, msgs);
  }

  async updateQueued(clientId: string, msg: QueuedMessage): Promise<void> {
    this.state.update(clientId, msg);
  }

  async removeQueued(clientId: string, seq: number): Promise<void> {
    this.state.remove(clientId, seq);
  }

  async loadQueue(clientId: string): Promise<QueuedMessage[]> {
    return this.state.queue(clientId);
  }
}
