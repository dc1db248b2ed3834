/**
 * ONE topic trie for everything topic-shaped: plain subscriptions, $share groups and retained
 * messages. Levels are Map keys; '+' and '#' children hold wildcard subscriptions; retained
 * messages sit on the node of their (wildcard-free) topic.
 */
import type { BrokerMessage, Subscription } from '../types';

/** Anything that subscribes (a session). Kept generic so the trie has no session dependency. */
export interface Subscriber {
  readonly clientId: string;
}

export interface ShareGroup<S extends Subscriber> {
  /** `$share/<name>/<filter>` key (unique per trie node). */
  name: string;
  filter: string;
  /** The full `$share/<name>/<filter>` string. */
  key: string;
  members: Array<{ session: S; sub: Subscription }>;
  next: number;
}

class TrieNode<S extends Subscriber> {
  children: Map<string, TrieNode<S>> | null = null;
  subs: Map<S, Subscription> | null = null;
  shares: Map<string, ShareGroup<S>> | null = null;
  retained: BrokerMessage | null = null;
  constructor(
    readonly parent: TrieNode<S> | null,
    readonly key: string,
  ) {}
  empty(): boolean {
    return (
      this.retained === null &&
      (this.children === null || this.children.size === 0) &&
      (this.subs === null || this.subs.size === 0) &&
      (this.shares === null || this.shares.size === 0)
    );
  }
}

export type MatchFn<S extends Subscriber> = (session: S, sub: Subscription) => void;

/** Everything a topic matches, as parallel arrays (cached per topic until a subscription changes). */
export interface MatchResult<S extends Subscriber> {
  version: number;
  sessions: S[];
  subs: Subscription[];
  groups: ShareGroup<S>[];
}

/** Topics whose match result is cached (the cache is dropped as a whole when full). */
const MATCH_CACHE_MAX = 10000;
export type ShareFn<S extends Subscriber> = (group: ShareGroup<S>) => void;

export class TopicTrie<S extends Subscriber> {
  private readonly root = new TrieNode<S>(null, '');
  subscriptionCount = 0;
  retainedCount = 0;
  /** Bumped by every subscription change; cached match results of older versions are stale. */
  private version = 0;
  private readonly cache = new Map<string, MatchResult<S>>();
  private cacheVersion = 0;

  private node(filter: string, create: true): TrieNode<S>;
  private node(filter: string, create: false): TrieNode<S> | null;
  private node(filter: string, create: boolean): TrieNode<S> | null {
    let n = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end === -1) end = filter.length;
      const level = filter.slice(start, end);
      let c = n.children?.get(level);
      if (!c) {
        if (!create) return null;
        c = new TrieNode<S>(n, level);
        (n.children ??= new Map()).set(level, c);
      }
      n = c;
      if (end === filter.length) return n;
      start = end + 1;
    }
  }

  private prune(n: TrieNode<S> | null): void {
    while (n && n.parent && n.empty()) {
      n.parent.children?.delete(n.key);
      n = n.parent;
    }
  }

  /** Add or replace a plain subscription. Returns true when it replaced an existing one. */
  add(filter: string, session: S, sub: Subscription): boolean {
    this.version++;
    const n = this.node(filter, true);
    const subs = (n.subs ??= new Map());
    const existed = subs.has(session);
    subs.set(session, sub);
    if (!existed) this.subscriptionCount++;
    return existed;
  }

  remove(filter: string, session: S): boolean {
    this.version++;
    const n = this.node(filter, false);
    if (!n || !n.subs || !n.subs.delete(session)) return false;
    this.subscriptionCount--;
    this.prune(n);
    return true;
  }

  addShared(group: string, filter: string, session: S, sub: Subscription): boolean {
    this.version++;
    const n = this.node(filter, true);
    const shares = (n.shares ??= new Map());
    let g: ShareGroup<S> | undefined = shares.get(group);
    if (!g) {
      g = { name: group, filter, key: `$share/${group}/${filter}`, members: [], next: 0 };
      shares.set(group, g);
    }
    const i = g.members.findIndex((m) => m.session === session);
    if (i >= 0) {
      g.members[i] = { session, sub };
      return true;
    }
    g.members.push({ session, sub });
    this.subscriptionCount++;
    return false;
  }

  removeShared(group: string, filter: string, session: S): boolean {
    this.version++;
    const n = this.node(filter, false);
    const g = n?.shares?.get(group);
    if (!n || !g) return false;
    const i = g.members.findIndex((m) => m.session === session);
    if (i < 0) return false;
    g.members.splice(i, 1);
    if (g.next > i) g.next--;
    this.subscriptionCount--;
    if (g.members.length === 0) {
      n.shares!.delete(group);
      this.prune(n);
    }
    return true;
  }

  getShared(group: string, filter: string): ShareGroup<S> | undefined {
    return this.node(filter, false)?.shares?.get(group);
  }

  /** All subscriptions and share groups matching `topic`; cached until the subscriptions change. */
  matchAll(topic: string): MatchResult<S> {
    if (this.cacheVersion !== this.version) {
      // subscriptions changed: drop every cached result (no stale references kept)
      if (this.cache.size > 0) this.cache.clear();
      this.cacheVersion = this.version;
    } else {
      const cached = this.cache.get(topic);
      if (cached !== undefined) return cached;
    }
    const r: MatchResult<S> = { version: this.version, sessions: [], subs: [], groups: [] };
    this.match(
      topic,
      (s, sub) => {
        r.sessions.push(s);
        r.subs.push(sub);
      },
      (g) => r.groups.push(g),
    );
    if (this.cache.size >= MATCH_CACHE_MAX) this.cache.clear();
    this.cache.set(topic, r);
    return r;
  }

  /**
   * Call `onSub` for every plain subscription and `onShare` for every share group matching `topic`.
   * [MQTT-4.7.2-1] a topic starting with '$' is not matched by '#' or '+' at the first level.
   */
  match(topic: string, onSub: MatchFn<S>, onShare: ShareFn<S>): void {
    const levels = topic.split('/');
    this.matchNode(this.root, levels, 0, topic.charCodeAt(0) === 36, onSub, onShare);
  }

  private emit(n: TrieNode<S>, onSub: MatchFn<S>, onShare: ShareFn<S>): void {
    if (n.subs) for (const [s, sub] of n.subs) onSub(s, sub);
    if (n.shares) for (const g of n.shares.values()) onShare(g);
  }

  private matchNode(
    n: TrieNode<S>,
    levels: string[],
    i: number,
    dollar: boolean,
    onSub: MatchFn<S>,
    onShare: ShareFn<S>,
  ): void {
    const ch = n.children;
    if (i === levels.length) {
      this.emit(n, onSub, onShare);
      // 'a/#' also matches 'a' (the parent level), section 4.7.1.2.
      const h = ch?.get('#');
      if (h) this.emit(h, onSub, onShare);
      return;
    }
    if (!ch) return;
    if (!(dollar && i === 0)) {
      const h = ch.get('#');
      if (h) this.emit(h, onSub, onShare);
      const p = ch.get('+');
      if (p) this.matchNode(p, levels, i + 1, dollar, onSub, onShare);
    }
    const c = ch.get(levels[i]!);
    if (c) this.matchNode(c, levels, i + 1, dollar, onSub, onShare);
  }

  // ------------------------------------------------------------------ retained

  /** Store (or with an empty payload delete) the retained message of msg.topic, [MQTT-3.3.1-5..7]. */
  setRetained(msg: BrokerMessage): void {
    if (msg.payload.length === 0) {
      const n = this.node(msg.topic, false);
      if (n && n.retained) {
        n.retained = null;
        this.retainedCount--;
        this.prune(n);
      }
      return;
    }
    const n = this.node(msg.topic, true);
    if (!n.retained) this.retainedCount++;
    n.retained = msg;
  }

  getRetained(topic: string): BrokerMessage | null {
    return this.node(topic, false)?.retained ?? null;
  }

  /** Delete a retained message (e.g. expired). */
  deleteRetained(topic: string): void {
    this.setRetained({ topic, payload: Buffer.alloc(0), qos: 0, retain: true });
  }

  /** Retained messages whose topic matches `filter`. */
  matchRetained(filter: string): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    this.retainedWalk(this.root, filter.split('/'), 0, out);
    return out;
  }

  private retainedWalk(n: TrieNode<S>, f: string[], i: number, out: BrokerMessage[]): void {
    if (i === f.length) {
      if (n.retained) out.push(n.retained);
      return;
    }
    const level = f[i]!;
    if (level === '#') {
      if (i > 0 && n.retained) out.push(n.retained);
      this.collectAll(n, i === 0, out);
      return;
    }
    if (!n.children) return;
    if (level === '+') {
      for (const [k, c] of n.children) {
        if (i === 0 && k.charCodeAt(0) === 36) continue; // [MQTT-4.7.2-1]
        this.retainedWalk(c, f, i + 1, out);
      }
      return;
    }
    const c = n.children.get(level);
    if (c) this.retainedWalk(c, f, i + 1, out);
  }

  private collectAll(n: TrieNode<S>, skipDollar: boolean, out: BrokerMessage[]): void {
    if (!n.children) return;
    for (const [k, c] of n.children) {
      if (skipDollar && k.charCodeAt(0) === 36) continue; // [MQTT-4.7.2-1]
      if (c.retained) out.push(c.retained);
      this.collectAll(c, false, out);
    }
  }

  allRetained(): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    this.collectAll(this.root, false, out);
    return out;
  }
}
