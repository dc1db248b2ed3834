/**
 * Access control lists with Mosquitto-like semantics.
 *
 * Source of the semantics: Mosquitto's documentation of `acl_file` (mosquitto.conf(5), and
 * https://mosquitto.org/documentation/plugins/acl-file/): when an ACL is defined only the topics it
 * lists are accessible; access is read, write, readwrite or deny; `deny` entries are handled before
 * the entries that grant access; `pattern` entries substitute %u (username) and %c (client id).
 * Mosquitto 1.4.12 (CVE-2017-7650) stopped pattern ACLs from matching for clients whose username or
 * client id contains `+` or `#`; we also refuse `/` so that a name can never span topic levels.
 *
 * Mapping to our rule shape {user?, topic, access}:
 * - `user` omitted or '*' applies to every client, anonymous included (Mosquitto's `pattern` lines);
 *   otherwise the rule applies only to clients that authenticated with that username.
 * - %u / %c may appear in any rule, as a whole level or inside one. A rule whose substitution is not
 *   possible (no username, or a name containing + # /) does not apply to that client at all.
 * - No rules at all: everything is allowed. With rules: default deny.
 * - write (PUBLISH to topic T): some applicable write/readwrite filter matches T and no deny filter does.
 * - read, checked twice:
 *   1. at SUBSCRIBE, per `subscribePolicy`:
 *      'contained' (default): filter F is granted only if it is contained in some read filter
 *        (`a/#` contains `a/+/c`; `a/+` does not contain `a/#`) and not contained in a deny filter.
 *        Why: MQTT 5 has a reason code for this (0x87), so the client learns at once that it asked
 *        for too much instead of holding a subscription that silently never delivers, and the
 *        broker does not route messages that would be dropped at delivery anyway.
 *      'overlap': F is granted when some topic could match both F and a read filter (so `#` is
 *        granted to a client that may read `a/b`); delivery filtering does the rest.
 *      'delivery': every subscription is granted; only delivery is checked. This is what
 *        Mosquitto does (observed with mosquitto 2.0.11 + acl_file: SUBACK grants `#` or a denied
 *        subtree, and messages are filtered when delivered).
 *   2. at every delivery (authorizeRead): the topic must match a read filter and no deny filter,
 *      as Mosquitto checks reads at delivery time. This enforces deny carve-outs inside a granted
 *      subscription (read `a/#` + deny `a/secret` with subscription `a/#`).
 * - `$SYS/...` (any `$` topic) is matched only by rules whose first level is literal, so `#` never
 *   grants `$SYS/#`; a rule must name it [MQTT-4.7.2-1].
 * Shared subscriptions `$share/<group>/<filter>` are checked on <filter>.
 */
import type { AclAccess, AclRule, ClientIdentity } from '../types';
import { FilterTrie, filterContains, filterError, filtersOverlap, unshare } from './topic-filter';

export type SubscribePolicy = 'contained' | 'overlap' | 'delivery';

interface RuleSpec {
  topic: string;
  access: AclAccess;
  hasU: boolean;
  hasC: boolean;
}

export interface CompiledAcl {
  read: FilterTrie;
  write: FilterTrie;
  deny: FilterTrie;
  readFilters: string[];
  denyFilters: string[];
}

const ACCESS: readonly AclAccess[] = ['read', 'write', 'readwrite', 'deny'];

/** Returns one message per invalid rule (empty when all are valid). */
export function aclRuleErrors(rules: readonly AclRule[] | undefined): string[] {
  const errs: string[] = [];
  if (rules === undefined || rules === null) return errs;
  if (!Array.isArray(rules)) return ['acl must be an array of rules'];
  rules.forEach((r, i) => {
    if (!r || typeof r !== 'object') return void errs.push(`acl rule ${i + 1}: must be an object`);
    if (r.user !== undefined && (typeof r.user !== 'string' || r.user === '')) errs.push(`acl rule ${i + 1}: user must be a non-empty string or '*'`);
    if (!ACCESS.includes(r.access)) errs.push(`acl rule ${i + 1}: access must be one of ${ACCESS.join(', ')}`);
    const fe = filterError(r.topic);
    if (fe) errs.push(`acl rule ${i + 1}: ${fe}`);
  });
  return errs;
}

/** A name usable in %u / %c substitution: non-empty, no wildcard, no level separator. */
function safeName(s: string | undefined): s is string {
  return typeof s === 'string' && s.length > 0 && !/[+#/]/.test(s) && !s.includes('\u0000');
}

interface CacheEntry {
  username: string | undefined;
  clientId: string;
  acl: CompiledAcl;
}

const MAX_CACHE = 4096;

export class Acl {
  /** false when no rules are configured: everything is allowed. */
  readonly enabled: boolean;
  private readonly everyone: RuleSpec[] = [];
  private readonly perUser = new Map<string, RuleSpec[]>();
  private readonly usesClientId: boolean;
  private readonly byIdentity = new WeakMap<object, CacheEntry>();
  private readonly byKey = new Map<string, CompiledAcl>();

  constructor(rules: readonly AclRule[] = [], readonly subscribePolicy: SubscribePolicy = 'contained') {
    const errs = aclRuleErrors(rules);
    if (errs.length) throw new Error(errs.join('; '));
    this.enabled = rules.length > 0;
    let usesC = false;
    for (const r of rules) {
      const spec: RuleSpec = { topic: r.topic, access: r.access, hasU: r.topic.includes('%u'), hasC: r.topic.includes('%c') };
      usesC ||= spec.hasC;
      if (r.user === undefined || r.user === '*') this.everyone.push(spec);
      else {
        let l = this.perUser.get(r.user);
        if (!l) this.perUser.set(r.user, (l = []));
        l.push(spec);
      }
    }
    this.usesClientId = usesC;
  }

  /** The rules compiled for one client (cached per identity object and per username/client id). */
  forClient(client: ClientIdentity): CompiledAcl {
    const username = client.username;
    const clientId = client.clientId;
    const hit = this.byIdentity.get(client);
    if (hit && hit.username === username && hit.clientId === clientId) return hit.acl;
    const key = (username === undefined ? '\u0001' : `u${username}`) + (this.usesClientId ? `\u0000${clientId}` : '');
    let acl = this.byKey.get(key);
    if (!acl) {
      acl = this.compile(username, clientId);
      if (this.byKey.size >= MAX_CACHE) this.byKey.clear();
      this.byKey.set(key, acl);
    }
    this.byIdentity.set(client, { username, clientId, acl });
    return acl;
  }

  private compile(username: string | undefined, clientId: string): CompiledAcl {
    const out: CompiledAcl = { read: new FilterTrie(), write: new FilterTrie(), deny: new FilterTrie(), readFilters: [], denyFilters: [] };
    const specs = username !== undefined ? [...this.everyone, ...(this.perUser.get(username) ?? [])] : this.everyone;
    for (const s of specs) {
      if ((s.hasU && !safeName(username)) || (s.hasC && !safeName(clientId))) continue;
      // one pass, so that a name containing "%c" or "%u" is not substituted again
      const topic = s.hasU || s.hasC ? s.topic.replace(/%[uc]/g, (m) => (m === '%u' ? username! : clientId)) : s.topic;
      if (s.access === 'deny') {
        out.deny.add(topic);
        out.denyFilters.push(topic);
      }
      if (s.access === 'read' || s.access === 'readwrite') {
        out.read.add(topic);
        out.readFilters.push(topic);
      }
      if (s.access === 'write' || s.access === 'readwrite') out.write.add(topic);
    }
    return out;
  }

  /** May `client` publish to `topic`? */
  canWrite(client: ClientIdentity, topic: string): boolean {
    if (!this.enabled) return true;
    const a = this.forClient(client);
    if (a.write.size === 0) return false;
    const levels = topic.split('/');
    return a.write.matchesLevels(levels) && !a.deny.matchesLevels(levels);
  }

  /** May a message on `topic` be delivered to `client`? (hot path: O(levels)) */
  canRead(client: ClientIdentity, topic: string): boolean {
    if (!this.enabled) return true;
    const a = this.forClient(client);
    if (a.read.size === 0) return false;
    const levels = topic.split('/');
    return a.read.matchesLevels(levels) && !a.deny.matchesLevels(levels);
  }

  /** May `client` subscribe to `filter` (a valid filter, `$share/...` allowed)? */
  canSubscribe(client: ClientIdentity, filter: string): boolean {
    if (!this.enabled || this.subscribePolicy === 'delivery') return true;
    const f = unshare(filter);
    const a = this.forClient(client);
    for (const d of a.denyFilters) if (filterContains(d, f)) return false;
    if (this.subscribePolicy === 'overlap') {
      for (const r of a.readFilters) if (filtersOverlap(r, f)) return true;
      return false;
    }
    for (const r of a.readFilters) if (filterContains(r, f)) return true;
    return false;
  }
}
