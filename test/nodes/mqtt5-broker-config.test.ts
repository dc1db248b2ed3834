/**
 * mqtt5-broker configuration parsing, change detection and input validation (pure functions).
 */
import assert from 'node:assert/strict';
import { ConfigError, diffConfig, joinHttpPath, parseConfig, topicMatches, type RawBrokerConfig } from '../../src/nodes/mqtt5-broker/config';
import { inputToPublish } from '../../src/nodes/mqtt5-broker/input';

const ctx = {
  userDir: '/home/nr/.node-red',
  httpNodeRoot: '/',
  hasHttpServer: true,
  tlsLookup: (id: string) => (id === 'tls1' ? { key: Buffer.from('KEY'), cert: Buffer.from('CERT'), ca: Buffer.from('CA') } : `TLS configuration ${id} not found`),
};

function parse(n: Partial<RawBrokerConfig>, users?: unknown[]) {
  return parseConfig({ id: 'b1', ...n }, users ? { users: JSON.stringify(users) } : undefined, ctx);
}

describe('mqtt5-broker config', function () {
  it('defaults to one TCP listener on 1883, all interfaces, memory store, anonymous allowed', function () {
    const c = parse({});
    assert.deepEqual(c.listeners, [{ id: 'tcp', type: 'tcp', host: '0.0.0.0', port: 1883 }]);
    assert.equal(c.core.persistence, 'memory');
    assert.equal(c.security.allowAnonymous, true);
    assert.equal(c.core.sysInterval, 10);
  });

  it('rejects bad values with precise messages', function () {
    assert.throws(() => parse({ tcpPort: 'abc' }), (e: Error) => e instanceof ConfigError && /TCP port must be an integer from 0 to 65535 \(got "abc"\)/.test(e.message));
    assert.throws(() => parse({ tcpEnabled: false }), /no listener enabled/);
    assert.throws(() => parse({ tlsEnabled: true, tls: 'nope' }), /TLS configuration nope not found/);
    assert.throws(() => parse({ tcpPort: 1884, wsEnabled: true, wsPort: 1884 }), /TCP and WS listeners both use port 1884/);
    assert.throws(() => parse({ acl: [{ topic: 'a/#/b', access: 'read' }] }), /ACL rule 1: invalid topic filter "a\/#\/b"/);
    assert.throws(() => parse({ acl: [{ topic: 'a', access: 'all' }] }), /ACL rule 1: access must be/);
    assert.throws(() => parse({}, [{ username: 'a' }]), /user "a" has no password/);
    assert.throws(() => parse({}, [{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }]), /listed twice/);
    assert.throws(() => parseConfig({ id: 'b1' }, { users: '{bad' }, ctx), /not valid JSON/);
    assert.throws(() => parse({ persistence: 'disk' }), /persistence must be/);
    assert.throws(() => parse({ copyTopic: 'a/+b' }), /publish copy: invalid topic filter/);
  });

  it('users turn anonymous off by default; ACL "both" means readwrite, empty user means everyone', function () {
    const c = parse({ acl: [{ user: '', topic: 'u/%u/#', access: 'both' }] }, [{ username: 'alice', password: 'pw' }]);
    assert.equal(c.security.allowAnonymous, false);
    assert.deepEqual(c.security.users, [{ username: 'alice', password: 'pw' }]);
    assert.deepEqual(c.security.acl, [{ user: '*', topic: 'u/%u/#', access: 'readwrite' }]);
  });

  it('durable store lives in <userDir>/mqtt5-hub/<node id>', function () {
    const c = parse({ persistence: 'file', flush: 'interval', flushInterval: '250' });
    assert.equal(c.core.dir, '/home/nr/.node-red/mqtt5-hub/b1');
    assert.equal(c.core.flush, 'interval');
    assert.equal(c.core.flushIntervalMs, 250);
  });

  it('ws path honours httpNodeRoot', function () {
    assert.equal(joinHttpPath('/red/', '/mqtt'), '/red/mqtt');
    assert.equal(joinHttpPath('/', '/mqtt'), '/mqtt');
    assert.equal(joinHttpPath(undefined, 'mqtt/'), '/mqtt');
    const c = parseConfig({ id: 'b1', tcpEnabled: false, wsEnabled: true, wsMode: 'path', wsPath: '/ws' }, undefined, { ...ctx, httpNodeRoot: '/api' });
    assert.deepEqual(c.listeners, [{ id: 'ws', type: 'ws-path', path: '/api/ws' }]);
  });

  it('hashes split the config so a change redoes only its part', function () {
    const a = parse({ tcpPort: 1883 });
    assert.deepEqual(diffConfig(a.hashes, parse({ tcpPort: 1883, name: 'renamed', copyTopic: '#' }).hashes), {
      restart: false,
      security: false,
      removeListeners: [],
      addListeners: [],
    });
    const sec = diffConfig(a.hashes, parse({ tcpPort: 1883 }, [{ username: 'u', password: 'p' }]).hashes);
    assert.equal(sec.security, true);
    assert.equal(sec.restart, false);
    const lis = diffConfig(a.hashes, parse({ tcpPort: 1884, wsEnabled: true, wsPort: 9001 }).hashes);
    assert.deepEqual(lis.removeListeners, ['tcp']);
    assert.deepEqual(lis.addListeners.sort(), ['tcp', 'ws']);
    assert.equal(diffConfig(a.hashes, parse({ tcpPort: 1883, maxQueued: 5 }).hashes).restart, true);
    // TLS material is part of the listener hash
    const t1 = parseConfig({ id: 'b', tlsEnabled: true, tls: 'tls1' }, undefined, ctx);
    const t2 = parseConfig({ id: 'b', tlsEnabled: true, tls: 'tls1' }, undefined, { ...ctx, tlsLookup: () => ({ key: Buffer.from('KEY2'), cert: Buffer.from('CERT') }) });
    assert.notEqual(t1.hashes.listeners.tls, t2.hashes.listeners.tls);
  });

  it('topic filter matching follows MQTT, $ topics excluded from leading wildcards', function () {
    assert.equal(topicMatches('a/#', 'a'), true);
    assert.equal(topicMatches('a/#', 'a/b/c'), true);
    assert.equal(topicMatches('a/+/c', 'a/b/c'), true);
    assert.equal(topicMatches('a/+', 'a/b/c'), false);
    assert.equal(topicMatches('#', '$SYS/broker/uptime'), false);
    assert.equal(topicMatches('$SYS/#', '$SYS/broker/uptime'), true);
    assert.equal(topicMatches('a/b', 'a/b/'), false);
  });
});

describe('mqtt5-broker input validation', function () {
  it('builds a publish with MQTT 5 properties from msg', function () {
    const p = inputToPublish({ topic: 't/1', payload: { a: 1 }, qos: 1, retain: true, userProperties: { k: 'v', n: 2 }, contentType: 'application/json', properties: { responseTopic: 'r/1' } });
    assert.ok(typeof p !== 'string');
    assert.equal(p.payload.toString(), '{"a":1}');
    assert.equal(p.qos, 1);
    assert.equal(p.retain, true);
    assert.deepEqual(p.properties, { userProperties: { k: 'v', n: '2' }, contentType: 'application/json', responseTopic: 'r/1' });
  });

  it('names what is wrong', function () {
    assert.match(inputToPublish({ payload: 1 }) as string, /msg.topic must be a non-empty string/);
    assert.match(inputToPublish({ topic: 'a/#' }) as string, /wildcard/);
    assert.match(inputToPublish({ topic: 'a', qos: 3 }) as string, /msg.qos must be 0, 1 or 2/);
    assert.match(inputToPublish({ topic: 'a', userProperties: 'x' }) as string, /userProperties must be an object/);
    assert.match(inputToPublish({ topic: 'a', messageExpiryInterval: -1 }) as string, /messageExpiryInterval/);
    assert.match(inputToPublish({ topic: 'a' }) as string, /msg.payload is missing/);
    assert.equal((inputToPublish({ topic: 'a', payload: null }) as { payload: Buffer }).payload.length, 0);
  });

  it('odd values (BigInt, circular objects, symbols) are named errors, not exceptions', function () {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(inputToPublish({ topic: 'a', qos: 5n }), 'msg.qos must be 0, 1 or 2 (got 5n)');
    assert.equal(inputToPublish({ topic: 'a', qos: Symbol('q') }), 'msg.qos must be 0, 1 or 2 (got symbol)');
    assert.match(inputToPublish({ topic: 'a', payload: { n: 1n } }) as string, /^msg.payload cannot be converted to JSON: /);
    assert.match(inputToPublish({ topic: 'a', payload: 'x', correlationData: circular }) as string, /^msg.correlationData cannot be converted to JSON: /);
  });
});
