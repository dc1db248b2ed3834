import assert from 'node:assert/strict';
import { RawClient, startBroker, type TestBroker } from './helpers';
import { createBroker } from '../../src/broker';

describe('broker core: SUBSCRIBE options, retained, filters', function () {
  let broker: TestBroker;
  before(async () => {
    ({ broker } = await startBroker({ limits: { maximumQoS: 1 } }));
    await broker.publish({ topic: 'sub/ret/a', payload: 'A', qos: 1, retain: true });
    await broker.publish({ topic: 'sub/ret/b', payload: 'B', qos: 0, retain: true });
  });
  after(async () => {
    await broker.close();
  });

  async function client(id: string): Promise<RawClient> {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: id });
    return c;
  }

  it('Retain Handling 0 sends retained on every SUBSCRIBE, 1 only for a new subscription, 2 never', async () => {
    const c = await client('rh');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sub/ret/a', qos: 1, rh: 0 }] });
    await c.next('suback');
    assert.equal((await c.next('publish')).retain, true);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'sub/ret/a', qos: 1, rh: 0 }] });
    await c.next('suback');
    const again = await c.next('publish');
    assert.equal(again.payload.toString(), 'A', 'rh 0: sent again on re-subscribe');
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'sub/ret/+', qos: 1, rh: 1 }] });
    await c.next('suback');
    const two = [await c.next('publish'), await c.next('publish')].map((p) => p.payload.toString()).sort();
    assert.deepEqual(two, ['A', 'B'], 'rh 1: new subscription gets retained');
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'sub/ret/+', qos: 1, rh: 1 }] });
    await c.next('suback');
    assert.equal(await c.none('publish', 150), true, 'rh 1: not for an existing subscription');
    c.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'sub/ret/#', qos: 1, rh: 2 }] });
    await c.next('suback');
    assert.equal(await c.none('publish', 150), true, 'rh 2: never');
    c.end();
  });

  it('Retain As Published keeps RETAIN on forwarded messages; without it RETAIN is cleared', async () => {
    const c = await client('rap');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sub/rap/1', qos: 1, rap: true, rh: 2 }, { topic: 'sub/rap/0', qos: 1, rh: 2 }] });
    await c.next('suback');
    await broker.publish({ topic: 'sub/rap/1', payload: 'x', qos: 1, retain: true });
    const p1 = await c.next('publish');
    assert.equal(p1.retain, true);
    c.send({ cmd: 'puback', messageId: p1.messageId });
    await broker.publish({ topic: 'sub/rap/0', payload: 'y', qos: 1, retain: true });
    const p0 = await c.next('publish');
    assert.equal(p0.retain, false);
    c.end();
  });

  it('No Local: a client does not get its own messages back on that subscription', async () => {
    const c = await client('nl');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sub/nl', qos: 0, nl: true }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'sub/nl', payload: 'mine', qos: 0 });
    assert.equal(await c.none('publish', 150), true);
    const other = await client('nl-other');
    other.send({ cmd: 'publish', topic: 'sub/nl', payload: 'theirs', qos: 0 });
    assert.equal((await c.next('publish')).payload.toString(), 'theirs');
    c.end();
    other.end();
  });

  it('one delivery carries ALL matching subscription identifiers, with the highest QoS', async () => {
    const c = await client('subid');
    c.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 11 }, subscriptions: [{ topic: 'sub/id/+', qos: 0 }] });
    await c.next('suback');
    c.send({ cmd: 'subscribe', messageId: 2, properties: { subscriptionIdentifier: 22 }, subscriptions: [{ topic: 'sub/id/#', qos: 1 }] });
    await c.next('suback');
    await broker.publish({ topic: 'sub/id/x', payload: 'x', qos: 1 });
    const p = await c.next('publish');
    assert.deepEqual([...[p.properties.subscriptionIdentifier].flat()].sort((a: number, b: number) => a - b), [11, 22]);
    assert.equal(p.qos, 1);
    assert.equal(await c.none('publish', 100), true, 'exactly one delivery');
    c.end();
  });

  it('$-topics are not matched by # or + at the first level [MQTT-4.7.2-1]', async () => {
    const c = await client('dollar');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }, { topic: '+/x', qos: 0 }] });
    await c.next('suback');
    for (const p of c.packets.splice(0)) assert.ok(!String(p.topic ?? '').startsWith('$'));
    await broker.publish({ topic: '$internal/x', payload: 'hidden' });
    await broker.publish({ topic: 'visible/x', payload: 'seen' });
    const got = await c.next('publish');
    assert.equal(got.topic, 'visible/x');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(c.packets.every((p) => !String(p.topic).startsWith('$')));
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$internal/#', qos: 0 }] });
    await c.next('suback');
    await broker.publish({ topic: '$internal/y', payload: 'explicit' });
    assert.equal((await c.next('publish')).topic, '$internal/y');
    c.end();
  });

  it('invalid filters get 0x8F (3.1.1: 0x80); granted QoS is capped by Maximum QoS', async () => {
    const c = await client('bad-filter');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 0 }, { topic: 'a+', qos: 0 }, { topic: 'ok/+', qos: 2 }, { topic: '$share/g+/x', qos: 0 }] });
    const ack = await c.next('suback');
    assert.deepEqual(ack.granted, [0x8f, 0x8f, 1, 0x8f]);
    c.end();
    const d = new RawClient(broker, 4);
    await d.connect({ clientId: 'bad-filter-4' });
    d.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/#/y', qos: 0 }, { topic: 'fine', qos: 1 }] });
    assert.deepEqual((await d.next('suback')).granted, [0x80, 1]);
    d.end();
  });

  it('wildcards / subscription ids disabled by limits: 0xA2 in SUBACK, DISCONNECT 0xA1', async () => {
    const b = createBroker({ sysInterval: 0, limits: { wildcardSubscriptionAvailable: false, subscriptionIdentifiersAvailable: false } });
    const c = new RawClient(b, 5);
    const ack = await c.connect({ clientId: 'nowild' });
    assert.equal(ack.properties.wildcardSubscriptionAvailable, false);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w/+', qos: 0 }, { topic: 'w/x', qos: 0 }] });
    assert.deepEqual((await c.next('suback')).granted, [0xa2, 0]);
    c.send({ cmd: 'subscribe', messageId: 2, properties: { subscriptionIdentifier: 5 }, subscriptions: [{ topic: 'w/y', qos: 0 }] });
    assert.equal((await c.next('disconnect')).reasonCode, 0xa1);
    await b.close();
  });
});
