import assert from 'node:assert/strict';
import { collect, connect, RawClient, sleep, startBroker, type TestBroker } from './helpers';
import { waitFor } from '../helpers/env';

describe('broker core: MQTT 5 properties, expiry, aliases, packet sizes', function () {
  let broker: TestBroker;
  let url: string;
  before(async () => {
    ({ broker, url } = await startBroker({ limits: { topicAliasMaximum: 5, maxPacketSize: 4096 } }));
  });
  after(async () => {
    await broker.close();
  });

  it('forwards user properties, content type, payload format, response topic and correlation data unchanged', async () => {
    const sub = await connect(url);
    const got = collect(sub);
    await sub.subscribeAsync('props/req', { qos: 1 });
    const pub = await connect(url);
    const properties = {
      userProperties: { a: '1', b: ['x', 'y'] },
      contentType: 'application/json',
      payloadFormatIndicator: true,
      responseTopic: 'props/resp',
      correlationData: Buffer.from([1, 2, 3]),
    };
    await pub.publishAsync('props/req', '{"q":1}', { qos: 1, properties });
    await waitFor(() => got.length === 1, 5000, 'message');
    const p = got[0]!.packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.responseTopic, 'props/resp');
    assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]));
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  });

  it('payload format indicator 1 with invalid UTF-8: PUBACK 0x99 (QoS 1), DISCONNECT 0x99 (QoS 0)', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'pfi' });
    c.send({ cmd: 'publish', topic: 'props/pfi', payload: Buffer.from([0xff, 0xfe]), qos: 1, messageId: 1, properties: { payloadFormatIndicator: true } });
    assert.equal((await c.next('puback')).reasonCode, 0x99);
    c.send({ cmd: 'publish', topic: 'props/pfi', payload: Buffer.from([0xc3]), qos: 0, properties: { payloadFormatIndicator: true } });
    assert.equal((await c.next('disconnect')).reasonCode, 0x99);
  });

  it('Message Expiry: decremented when forwarded; expired queued messages are never delivered', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'exp-sub', clean: false, properties: { sessionExpiryInterval: 60 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'props/exp/#', qos: 1 }] });
    await c.next('suback');
    c.end();
    await waitFor(() => broker.clients().every((x) => x.clientId !== 'exp-sub'), 2000, 'offline');
    await broker.publish({ topic: 'props/exp/short', payload: 'dies', qos: 1, properties: { messageExpiryInterval: 1 } });
    await broker.publish({ topic: 'props/exp/long', payload: 'lives', qos: 1, properties: { messageExpiryInterval: 30 } });
    await broker.publish({ topic: 'props/exp/ret', payload: 'ret', qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    const dropped0 = broker.stats().messagesDropped;
    await sleep(2100);
    const d = new RawClient(broker, 5);
    await d.connect({ clientId: 'exp-sub', clean: false, properties: { sessionExpiryInterval: 60 } });
    const p = await d.next('publish');
    assert.equal(p.payload.toString(), 'lives');
    assert.ok(p.properties.messageExpiryInterval <= 28 && p.properties.messageExpiryInterval >= 1, `remaining ${p.properties.messageExpiryInterval}`);
    assert.equal(await d.none('publish', 150), true, 'expired ones are not delivered');
    assert.ok(broker.stats().messagesDropped >= dropped0 + 2);
    // the expired retained message is not sent to new subscribers either
    d.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'props/exp/ret', qos: 1 }] });
    await d.next('suback');
    assert.equal(await d.none('publish', 150), true);
    d.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  });

  it('inbound topic aliases: set, reuse, unknown alias 0x82, alias above maximum 0x94', async () => {
    const sub = await broker.connectInProcess({ clientId: 'alias-watch' });
    const topics: string[] = [];
    sub.on('message', (m) => topics.push(m.topic));
    await sub.subscribe([{ topicFilter: 'props/alias/#', qos: 0 }]);
    const c = new RawClient(broker, 5);
    const ack = await c.connect({ clientId: 'alias-in' });
    assert.equal(ack.properties.topicAliasMaximum, 5);
    c.send({ cmd: 'publish', topic: 'props/alias/one', payload: '1', qos: 0, properties: { topicAlias: 2 } });
    c.send({ cmd: 'publish', topic: '', payload: '2', qos: 0, properties: { topicAlias: 2 } });
    await waitFor(() => topics.length === 2, 2000, 'two messages');
    assert.deepEqual(topics, ['props/alias/one', 'props/alias/one']);
    c.send({ cmd: 'publish', topic: '', payload: '3', qos: 0, properties: { topicAlias: 3 } });
    assert.equal((await c.next('disconnect')).reasonCode, 0x82);
    const d = new RawClient(broker, 5);
    await d.connect({ clientId: 'alias-in2' });
    d.send({ cmd: 'publish', topic: 'props/alias/x', payload: '3', qos: 0, properties: { topicAlias: 6 } });
    assert.equal((await d.next('disconnect')).reasonCode, 0x94);
    await sub.end();
  });

  it("outbound topic aliases within the client's Topic Alias Maximum", async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'alias-out', properties: { topicAliasMaximum: 1 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'props/ao/#', qos: 0 }] });
    await c.next('suback');
    await broker.publish({ topic: 'props/ao/a', payload: '1' });
    await broker.publish({ topic: 'props/ao/a', payload: '2' });
    await broker.publish({ topic: 'props/ao/b', payload: '3' });
    const [p1, p2, p3] = [await c.next('publish'), await c.next('publish'), await c.next('publish')];
    assert.equal(p1.topic, 'props/ao/a');
    assert.equal(p1.properties.topicAlias, 1);
    assert.equal(p2.topic, '');
    assert.equal(p2.properties.topicAlias, 1);
    assert.equal(p3.topic, 'props/ao/b', 'no alias left: full topic');
    assert.equal(p3.properties?.topicAlias, undefined);
    c.end();
  });

  it('Maximum Packet Size: inbound too large -> DISCONNECT 0x95; outbound too large is dropped for that client only', async () => {
    const small = new RawClient(broker, 5);
    await small.connect({ clientId: 'mps-small', properties: { maximumPacketSize: 100 } });
    small.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'props/mps', qos: 1 }] });
    await small.next('suback');
    const big = new RawClient(broker, 5);
    await big.connect({ clientId: 'mps-big' });
    big.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'props/mps', qos: 1 }] });
    await big.next('suback');
    const dropped0 = broker.stats().messagesDropped;
    await broker.publish({ topic: 'props/mps', payload: Buffer.alloc(500, 1), qos: 1 });
    await broker.publish({ topic: 'props/mps', payload: 'tiny', qos: 1 });
    assert.equal((await big.next('publish')).payload.length, 500);
    assert.equal((await small.next('publish')).payload.toString(), 'tiny', 'the large one was skipped for the small client');
    assert.equal(broker.stats().messagesDropped, dropped0 + 1);
    big.send({ cmd: 'publish', topic: 'props/mps', payload: Buffer.alloc(5000), qos: 0 });
    assert.equal((await big.next('disconnect')).reasonCode, 0x95);
    small.end();
  });
});
