import assert from 'node:assert/strict';
import { collect, connect, RawClient, startBroker, type TestBroker } from './helpers';
import { waitFor } from '../helpers/env';
import { createBroker } from '../../src/broker';

describe('broker core: QoS 0/1/2 and Receive Maximum', function () {
  let broker: TestBroker;
  let url: string;
  before(async () => {
    ({ broker, url } = await startBroker({ limits: { receiveMaximum: 3 } }));
  });
  after(async () => {
    await broker.close();
  });

  it('inbound QoS 2: PUBREC, a DUP re-send is not delivered twice, PUBREL -> PUBCOMP', async () => {
    const sub = await broker.connectInProcess({ clientId: 'q2-sub' });
    const got: string[] = [];
    sub.on('message', (m) => got.push(m.payload.toString()));
    await sub.subscribe([{ topicFilter: 'qos/two', qos: 2 }]);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'q2-pub' });
    c.send({ cmd: 'publish', topic: 'qos/two', payload: 'once', qos: 2, messageId: 7 });
    const rec = await c.next('pubrec');
    assert.equal(rec.messageId, 7);
    c.send({ cmd: 'publish', topic: 'qos/two', payload: 'once', qos: 2, messageId: 7, dup: true });
    assert.equal((await c.next('pubrec')).messageId, 7);
    c.send({ cmd: 'pubrel', messageId: 7 });
    const comp = await c.next('pubcomp');
    assert.equal(comp.messageId, 7);
    assert.equal(comp.reasonCode, 0);
    assert.deepEqual(got, ['once']);
    c.send({ cmd: 'pubrel', messageId: 99 });
    assert.equal((await c.next('pubcomp')).reasonCode, 0x92);
    c.end();
    await sub.end();
  });

  it('outbound QoS 2 handshake to a raw subscriber; granted QoS caps the delivery QoS', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'q2-out' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'qos/out/2', qos: 2 }, { topic: 'qos/out/1', qos: 1 }] });
    assert.deepEqual((await c.next('suback')).granted, [2, 1]);
    await broker.publish({ topic: 'qos/out/2', payload: 'x', qos: 2 });
    const p = await c.next('publish');
    assert.equal(p.qos, 2);
    c.send({ cmd: 'pubrec', messageId: p.messageId });
    const rel = await c.next('pubrel');
    assert.equal(rel.messageId, p.messageId);
    c.send({ cmd: 'pubcomp', messageId: p.messageId });
    await broker.publish({ topic: 'qos/out/1', payload: 'y', qos: 2 });
    const p1 = await c.next('publish');
    assert.equal(p1.qos, 1, 'min(message QoS 2, granted QoS 1)');
    c.send({ cmd: 'puback', messageId: p1.messageId });
    await waitFor(() => broker.clients().find((x) => x.clientId === 'q2-out')?.inflight === 0, 2000, 'inflight 0');
    c.end();
  });

  it('PUBACK says 0x10 when nobody is subscribed (MQTT 5)', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'nobody' });
    c.send({ cmd: 'publish', topic: 'qos/nobody/here', payload: 'x', qos: 1, messageId: 3 });
    const ack = await c.next('puback');
    assert.equal(ack.messageId, 3);
    assert.equal(ack.reasonCode, 0x10);
    c.end();
  });

  it('QoS 1 and 2 end to end with mqtt.js (v5 and v3.1.1)', async () => {
    const sub = await connect(url, { protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('qos/e2e/#', { qos: 2 });
    const pub = await connect(url);
    for (let i = 0; i < 20; i++) await pub.publishAsync(`qos/e2e/${i % 3}`, String(i), { qos: (i % 2 ? 1 : 2) as 1 | 2 });
    await waitFor(() => got.length === 20, 5000, '20 messages');
    assert.deepEqual(got.map((m) => Number(m.payload)), Array.from({ length: 20 }, (_, i) => i));
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  });

  it('inbound Receive Maximum exceeded -> DISCONNECT 0x93', async () => {
    const c = new RawClient(broker, 5);
    const ack = await c.connect({ clientId: 'rm-in' });
    assert.equal(ack.properties.receiveMaximum, 3);
    for (let i = 1; i <= 4; i++) c.send({ cmd: 'publish', topic: 'qos/rm', payload: 'x', qos: 2, messageId: i });
    const d = await c.next('disconnect');
    assert.equal(d.reasonCode, 0x93);
    await c.closedPromise;
  });

  it("outbound: never more unacknowledged QoS>0 PUBLISHes than the client's Receive Maximum", async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'rm-out', properties: { receiveMaximum: 2 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'qos/win', qos: 1 }] });
    await c.next('suback');
    for (let i = 0; i < 5; i++) await broker.publish({ topic: 'qos/win', payload: String(i), qos: 1 });
    const a = await c.next('publish');
    const b = await c.next('publish');
    assert.equal(await c.none('publish', 200), true, 'window of 2 is full');
    assert.equal(broker.clients().find((x) => x.clientId === 'rm-out')?.queued, 3);
    c.send({ cmd: 'puback', messageId: a.messageId });
    const third = await c.next('publish');
    assert.equal(third.payload.toString(), '2');
    c.send({ cmd: 'puback', messageId: b.messageId });
    c.send({ cmd: 'puback', messageId: third.messageId });
    const rest = [await c.next('publish'), await c.next('publish')];
    assert.deepEqual(rest.map((p) => p.payload.toString()), ['3', '4']);
    c.end();
  });

  it('maxQueued with drop-oldest / drop-newest: counted, reported (messageDropped), in stats', async () => {
    for (const policy of ['drop-oldest', 'drop-newest'] as const) {
      const b = createBroker({ sysInterval: 0, limits: { maxQueued: 2, queueFullPolicy: policy } });
      const c = await b.connectInProcess({ clientId: 'q', cleanStart: false, sessionExpiryInterval: 60 });
      await c.subscribe([{ topicFilter: 'qos/queue', qos: 1 }]);
      await c.end();
      const drops: string[] = [];
      b.on('messageDropped', (d) => drops.push(`${d.clientId}:${d.reason}`));
      for (let i = 0; i < 4; i++) await b.publish({ topic: 'qos/queue', payload: String(i), qos: 1 });
      assert.deepEqual(drops, ['q:queue full', 'q:queue full']);
      assert.equal(b.stats().messagesDropped, 2);
      assert.equal(b.stats().queued, 2);
      const again = await b.connectInProcess({ clientId: 'q', cleanStart: false, sessionExpiryInterval: 60 });
      const got: string[] = [];
      again.on('message', (m) => got.push(m.payload.toString()));
      await Promise.resolve();
      assert.deepEqual(got, policy === 'drop-oldest' ? ['2', '3'] : ['0', '1'], policy);
      await b.close();
    }
  });

  it('topic length / level limits: PUBLISH 0x90, SUBSCRIBE 0x8F', async () => {
    const b = createBroker({ sysInterval: 0, limits: { maxTopicLevels: 3, maxTopicLength: 20 } });
    const c = new RawClient(b, 5);
    await c.connect({ clientId: 'levels' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b/c/d', qos: 0 }, { topic: 'x'.repeat(21), qos: 0 }, { topic: 'a/+/c', qos: 0 }] });
    assert.deepEqual((await c.next('suback')).granted, [0x8f, 0x8f, 0]);
    c.send({ cmd: 'publish', topic: 'a/b/c/d', payload: 'x', qos: 0 });
    assert.equal((await c.next('disconnect')).reasonCode, 0x90);
    await b.close();
  });

  it('disconnectClient sends DISCONNECT 0x98 (administrative action)', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'admin-kick' });
    assert.equal(broker.disconnectClient('admin-kick'), true);
    assert.equal((await c.next('disconnect')).reasonCode, 0x98);
    await c.closedPromise;
    assert.equal(broker.disconnectClient('admin-kick'), false);
  });
});
