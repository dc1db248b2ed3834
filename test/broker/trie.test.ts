import assert from 'node:assert/strict';
import { TopicTrie } from '../../src/broker/routing/trie';
import { parseFilter, topicMatches } from '../../src/broker/routing/topics';

const S = (clientId: string): { clientId: string } => ({ clientId });

describe('broker core: topic trie', function () {
  it('matches like the reference matcher (wildcards, $ topics, parent level of #) and caches until a change', () => {
    const trie = new TopicTrie<{ clientId: string }>();
    const filters = ['#', '+', 'a', 'a/#', 'a/+', 'a/b', 'a/+/c', '+/b/#', '$SYS/#', '$SYS/+/x', 'a/b/c/d', '/', '+/+', '/#'];
    const subs = filters.map((f) => S(f));
    filters.forEach((f, i) => trie.add(f, subs[i]!, { topicFilter: f, qos: 0 }));
    const topics = ['a', 'a/b', 'a/b/c', 'a/x/c', 'b', '/', '/a', 'a/', '$SYS/broker/x', '$SYS/x', 'x/b', 'x/b/y', 'a/b/c/d'];
    for (const t of topics) {
      const got = trie.matchAll(t).sessions.map((s) => s.clientId).sort();
      const want = filters.filter((f) => topicMatches(f, t)).sort();
      assert.deepEqual(got, want, t);
      assert.equal(trie.matchAll(t), trie.matchAll(t), 'cached');
    }
    const before = trie.matchAll('a/b');
    trie.remove('a/b', subs[filters.indexOf('a/b')]!);
    const after = trie.matchAll('a/b');
    assert.notEqual(after, before, 'a change invalidates the cache');
    assert.ok(!after.sessions.some((s) => s.clientId === 'a/b'));
    const late = S('late');
    trie.addShared('g', 'a/b', late, { topicFilter: '$share/g/a/b', qos: 1 });
    assert.deepEqual(trie.matchAll('a/b').groups.map((g) => g.key), ['$share/g/a/b']);
    trie.removeShared('g', 'a/b', late);
    assert.equal(trie.matchAll('a/b').groups.length, 0);
    assert.equal(trie.subscriptionCount, filters.length - 1);
  });

  it('retained messages: set, replace, delete with an empty payload, wildcard walks skip $ topics at the root', () => {
    const trie = new TopicTrie<{ clientId: string }>();
    const msg = (topic: string, p: string): any => ({ topic, payload: Buffer.from(p), qos: 0, retain: true });
    for (const t of ['a', 'a/b', 'a/b/c', '$SYS/x', 'b/c']) trie.setRetained(msg(t, t));
    trie.setRetained(msg('a/b', 'new'));
    assert.equal(trie.retainedCount, 5);
    const names = (f: string): string[] => trie.matchRetained(f).map((m) => m.topic).sort();
    assert.deepEqual(names('#'), ['a', 'a/b', 'a/b/c', 'b/c']);
    assert.deepEqual(names('a/#'), ['a', 'a/b', 'a/b/c']);
    assert.deepEqual(names('+/c'), ['b/c']);
    assert.deepEqual(names('$SYS/#'), ['$SYS/x']);
    assert.equal(trie.getRetained('a/b')!.payload.toString(), 'new');
    trie.setRetained(msg('a/b', ''));
    assert.equal(trie.getRetained('a/b'), null);
    assert.equal(trie.retainedCount, 4);
  });

  it('parses $share filters and refuses bad ones', () => {
    const limits = { maxTopicLength: 100, maxTopicLevels: 10 };
    assert.deepEqual(parseFilter('$share/g/a/+', limits), { filter: 'a/+', group: 'g' });
    for (const bad of ['$share/g', '$share//a', '$share/g+/a', '$share/g/', 'a/#/b', 'a+', '']) assert.equal(typeof parseFilter(bad, limits), 'number', bad);
  });
});
