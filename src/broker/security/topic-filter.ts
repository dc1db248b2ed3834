/**
 * Topic filter helpers for the ACL: validation, topic-vs-filter matching through a small trie,
 * and filter-vs-filter containment (is every topic matched by `inner` also matched by `outer`?).
 *
 * Rules of MQTT 5 section 4.7: `#` only as the last level and alone in it, `+` alone in its level,
 * and a filter starting with a wildcard never matches a topic starting with `$` [MQTT-4.7.2-1].
 */

/** Returns an error message, or null when `filter` is a valid topic filter. */
export function filterError(filter: string): string | null {
  if (typeof filter !== 'string' || filter.length === 0) return 'topic filter must be a non-empty string';
  if (filter.includes('\u0000')) return 'topic filter must not contain U+0000';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return `'#' must be the last level and alone in it: "${filter}"`;
    if (l.includes('+') && l !== '+') return `'+' must be alone in its level: "${filter}"`;
  }
  return null;
}

/**
 * True when every topic matched by filter `inner` is also matched by filter `outer`
 * (e.g. `a/#` contains `a/+/c`; `a/+` does not contain `a/#`). Both must be valid filters.
 */
export function filterContains(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  // a wildcard first level in `outer` never matches $-topics, which a literal `$...` inner level names
  if ((o[0] === '#' || o[0] === '+') && n[0].startsWith('$')) return false;
  for (let i = 0; ; i++) {
    if (i < o.length && o[i] === '#') return true; // `a/#` also matches the parent `a`
    if (i >= n.length) return i >= o.length;
    if (i >= o.length) return false;
    const ni = n[i];
    if (ni === '#') return false; // only '#' contains '#', handled above
    if (o[i] === '+') continue; // '+' contains '+' and any literal
    if (ni === '+' || o[i] !== ni) return false;
  }
}

/** True when some topic matches both filters (used for the 'overlap' subscribe policy). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const dollarX = x[0].startsWith('$');
  const dollarY = y[0].startsWith('$');
  if ((dollarX && (y[0] === '+' || y[0] === '#')) || (dollarY && (x[0] === '+' || x[0] === '#'))) return false;
  for (let i = 0; ; i++) {
    const xi = i < x.length ? x[i] : undefined;
    const yi = i < y.length ? y[i] : undefined;
    if (xi === '#' || yi === '#') return true;
    if (xi === undefined || yi === undefined) return xi === yi;
    if (xi !== '+' && yi !== '+' && xi !== yi) return false;
  }
}

interface TrieNode {
  children: Map<string, TrieNode> | null;
  plus: TrieNode | null;
  /** a filter ends with '#' below this node */
  hash: boolean;
  /** a filter ends exactly at this node */
  end: boolean;
}

function node(): TrieNode {
  return { children: null, plus: null, hash: false, end: false };
}

/**
 * A set of topic filters with O(topic levels) matching (no regular expressions). Built once per
 * client identity by the ACL and then only read.
 */
export class FilterTrie {
  private readonly root: TrieNode = node();
  size = 0;

  add(filter: string): void {
    let n = this.root;
    const levels = filter.split('/');
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      if (l === '#') {
        n.hash = true;
        this.size++;
        return;
      }
      if (l === '+') {
        n = n.plus ??= node();
      } else {
        if (!n.children) n.children = new Map();
        let c = n.children.get(l);
        if (!c) n.children.set(l, (c = node()));
        n = c;
      }
    }
    n.end = true;
    this.size++;
  }

  /** Does any filter in the set match `topic` (a topic name, no wildcards)? */
  matches(topic: string): boolean {
    if (this.size === 0) return false;
    return matchNode(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 36 /* $ */);
  }

  /** Same as matches() for a topic already split into levels (lets callers split once). */
  matchesLevels(levels: string[]): boolean {
    if (this.size === 0) return false;
    return matchNode(this.root, levels, 0, levels[0].charCodeAt(0) === 36 /* $ */);
  }
}

function matchNode(n: TrieNode, levels: string[], i: number, dollarFirst: boolean): boolean {
  const wildOk = !(i === 0 && dollarFirst);
  if (n.hash && wildOk) return true; // '#' matches this level and everything below, and the parent itself
  if (i === levels.length) return n.end;
  const c = n.children?.get(levels[i]);
  if (c && matchNode(c, levels, i + 1, dollarFirst)) return true;
  if (n.plus && wildOk && matchNode(n.plus, levels, i + 1, dollarFirst)) return true;
  return false;
}

/** Strips `$share/<group>/` from a shared subscription filter. */
export function unshare(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const slash = filter.indexOf('/', 7);
  return slash < 0 ? filter : filter.slice(slash + 1);
}
