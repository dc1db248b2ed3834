import assert from 'node:assert/strict';
import { createBroker, type InProcessMessage } from '../../src/broker';

describe('broker core: in-process client', function () {
  it('obeys authentication (unless trusted) and the ACL (always)', async () => {
    const b = createBroker({
      sysInterval: 0,
      users: [{ username: 'bob', password: 'pw' }],
      acl: [{ user: 'bob', topic: 'ip/allowed/#', access: 'readwrite' }],
    });
    await assert.rejects(b.connectInProcess({ clientId: 'x', username: 'bob', password: 'wrong' }), (e: any) => e.reasonCode === 0x86);
    const ok = await b.connectInProcess({ clientId: 'y', username: 'bob', password: 'pw' });
    assert.equal(ok.connected, true);
    const trusted = await b.connectInProcess({ clientId: 'z', username: 'bob', trusted: true });
    assert.equal((await trusted.publish('ip/denied', 'x', { qos: 1 })).reasonCode, 0x87);
    assert.deepEqual(await trusted.subscribe([{ topicFilter: 'ip/denied/#', qos: 0 }, { topicFilter: 'ip/allowed/#', qos: 1 }]), [0x87, 1]);
    await ok.end();
    await trusted.end();
    await b.close();
  });

  it('QoS, retained, subscription identifiers, message expiry and shared groups', async () => {
    const b = createBroker({ sysInterval: 0 });
    const pub = await b.connectInProcess({ clientId: 'ip-pub' });
    await pub.publish('ip/ret', 'kept', { qos: 1, retain: true });
    const s1 = await b.connectInProcess({ clientId: 'ip-s1' });
    const got1: InProcessMessage[] = [];
    s1.on('message', (m) => got1.push(m));
    assert.deepEqual(await s1.subscribe([{ topicFilter: 'ip/#', qos: 1, subscriptionIdentifier: 7 }, { topicFilter: 'ip/+', qos: 2, subscriptionIdentifier: 8 }]), [1, 2]);
    assert.equal(got1.length, 2, 'retained once per subscription');
    assert.ok(got1.every((m) => m.retain && m.payload.toString() === 'kept'));
    got1.length = 0;
    await pub.publish('ip/x', 'hello', { qos: 2, properties: { messageExpiryInterval: 60, contentType: 'text/plain' } });
    assert.equal(got1.length, 1);
    assert.equal(got1[0]!.qos, 2);
    assert.deepEqual([got1[0]!.properties.subscriptionIdentifier].flat().sort(), [7, 8]);
    assert.equal(got1[0]!.properties.contentType, 'text/plain');
    assert.equal(got1[0]!.properties.messageExpiryInterval, 60);
    const g: string[] = [];
    for (const id of ['ip-g1', 'ip-g2']) {
      const m = await b.connectInProcess({ clientId: id });
      m.on('message', () => g.push(id));
      await m.subscribe([{ topicFilter: '$share/grp/ip/share', qos: 1 }]);
    }
    for (let i = 0; i < 4; i++) await pub.publish('ip/share', String(i), { qos: 1 });
    assert.deepEqual(g.sort(), ['ip-g1', 'ip-g1', 'ip-g2', 'ip-g2']);
    await b.close();
  });

  it('persistent in-process session: queued while away, sessionPresent on return; will on end(0x04); disconnect event', async () => {
    const b = createBroker({ sysInterval: 0 });
    const c = await b.connectInProcess({ clientId: 'ip-persist', cleanStart: false, sessionExpiryInterval: 60 });
    await c.subscribe([{ topicFilter: 'ip/p', qos: 1 }]);
    await c.end();
    await b.publish({ topic: 'ip/p', payload: 'while away', qos: 1 });
    const again = await b.connectInProcess({ clientId: 'ip-persist', cleanStart: false, sessionExpiryInterval: 60 });
    assert.equal(again.sessionPresent, true);
    const got: string[] = [];
    again.on('message', (m) => got.push(m.payload.toString()));
    await Promise.resolve();
    assert.deepEqual(got, ['while away']);
    const watcher = await b.connectInProcess({ clientId: 'ip-watch' });
    const wills: string[] = [];
    watcher.on('message', (m) => wills.push(m.topic));
    await watcher.subscribe([{ topicFilter: 'ip/will', qos: 0 }]);
    const w = await b.connectInProcess({ clientId: 'ip-will', will: { topic: 'ip/will', payload: 'bye' } });
    await w.end({ reasonCode: 0x04 });
    assert.deepEqual(wills, ['ip/will']);
    const events: number[] = [];
    again.on('disconnect', (d) => events.push(d.reasonCode));
    assert.equal(b.disconnectClient('ip-persist'), true);
    assert.deepEqual(events, [0x98]);
    assert.equal(again.connected, false);
    await b.close();
  });

  it('delivers messages queued for an offline in-process session on reconnect', async () => {
    const b = createBroker({ sysInterval: 0 });
    const c = await b.connectInProcess({ clientId: 'ip-q', cleanStart: false, sessionExpiryInterval: 60 });
    await c.subscribe([{ topicFilter: 'ip/q', qos: 1 }]);
    await c.end();
    await b.publish({ topic: 'ip/q', payload: 'one', qos: 1 });
    await b.publish({ topic: 'ip/q', payload: 'two', qos: 1 });
    assert.equal(b.stats().queued, 2);
    const again = await b.connectInProcess({ clientId: 'ip-q', cleanStart: false, sessionExpiryInterval: 60 });
    const got: string[] = [];
    again.on('message', (m) => got.push(m.payload.toString()));
    assert.equal(b.stats().queued, 0, 'taken from the session queue on connect');
    assert.deepEqual(got, [], 'not before the caller has finished its synchronous setup');
    await Promise.resolve();
    assert.deepEqual(got, ['one', 'two'], 'delivered once the caller listens');
    await b.close();
  });

  it('refuses a publish whose properties no MQTT packet can carry (0x83), instead of losing it for network subscribers', async () => {
    const broker = createBroker({ sysInterval: 0 });
    await broker.listen();
    try {
      const sub = await broker.connectInProcess({ clientId: 'sub' });
      const got: InProcessMessage[] = [];
      sub.on('message', (m) => got.push(m));
      await sub.subscribe([{ topicFilter: 'big/#', qos: 1 }]);
      const pub = await broker.connectInProcess({ clientId: 'pub' });
      const huge = 'x'.repeat(70000);
      const cases = [
        { properties: { correlationData: Buffer.alloc(70000) }, what: /correlation data/ },
        { properties: { contentType: huge }, what: /content type/ },
        { properties: { responseTopic: huge }, what: /response topic/ },
        { properties: { userProperties: { k: ['ok', huge] } }, what: /user property "k"/ },
      ];
      for (const c of cases) {
        const r = await pub.publish('big/1', 'p', { qos: 1, properties: c.properties });
        assert.equal(r.reasonCode, 0x83);
        assert.match(r.reasonString ?? '', c.what);
      }
      const ok = await pub.publish('big/2', 'p', { qos: 1, properties: { correlationData: Buffer.alloc(65535) } });
      assert.equal(ok.reasonCode, 0);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got.map((m) => m.topic), ['big/2']);
    } finally {
      await broker.close();
    }
  });
});
