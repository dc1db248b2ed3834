import assert from 'node:assert/strict';
import { collect, connect, RawClient, startBroker, type TestBroker } from './helpers';
import { waitFor } from '../helpers/env';

describe('broker core: basics', function () {
  let broker: TestBroker;
  let url: string;
  before(async () => {
    ({ broker, url } = await startBroker());
  });
  after(async () => {
    await broker.close();
  });

  it('routes QoS 0 and 1 between MQTT 5 and MQTT 3.1.1 clients over TCP', async () => {
    const sub = await connect(url, { protocolVersion: 5 });
    const pub = await connect(url, { protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('basics/+', { qos: 1 });
    await pub.publishAsync('basics/a', 'zero', { qos: 0 });
    await pub.publishAsync('basics/b', 'one', { qos: 1 });
    await waitFor(() => got.length === 2, 5000, 'two messages');
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload, m.packet.qos]),
      [
        ['basics/a', 'zero', 0],
        ['basics/b', 'one', 1],
      ],
    );
    await sub.endAsync();
    await pub.endAsync();
  });

  it('sends the retained message to a new subscriber with RETAIN=1 and deletes it on an empty payload', async () => {
    const pub = await connect(url);
    await pub.publishAsync('basics/ret', 'kept', { qos: 1, retain: true });
    const sub = await connect(url);
    const got = collect(sub);
    await sub.subscribeAsync('basics/ret', { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'retained message');
    assert.equal(got[0]!.payload, 'kept');
    assert.equal(got[0]!.packet.retain, true);
    await pub.publishAsync('basics/ret', '', { qos: 1, retain: true });
    const sub2 = await connect(url);
    const got2 = collect(sub2);
    await sub2.subscribeAsync('basics/ret', { qos: 1 });
    await pub.publishAsync('basics/ret', 'live', { qos: 1 });
    await waitFor(() => got2.length === 1, 5000, 'live message');
    assert.equal(got2[0]!.payload, 'live', 'no retained message after deletion');
    await Promise.all([pub.endAsync(), sub.endAsync(), sub2.endAsync()]);
  });

  it('UNSUBSCRIBE stops delivery; UNSUBACK carries 0x00 / 0x11', async () => {
    const c = new RawClient(broker, 5);
    const ack = await c.connect({ clientId: 'unsub1' });
    assert.equal(ack.reasonCode, 0);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'basics/u', qos: 0 }] });
    assert.deepEqual((await c.next('suback')).granted, [0]);
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['basics/u', 'basics/never'] });
    const ua = await c.next('unsuback');
    assert.equal(ua.messageId, 2);
    assert.deepEqual(ua.granted, [0x00, 0x11]);
    await broker.publish({ topic: 'basics/u', payload: 'x' });
    assert.equal(await c.none('publish', 150), true);
    c.end();
  });

  it('answers PINGREQ with PINGRESP and closes on DISCONNECT', async () => {
    const c = new RawClient(broker, 4);
    const ack = await c.connect({ clientId: 'ping1' });
    assert.equal(ack.returnCode, 0);
    c.send({ cmd: 'pingreq' });
    assert.equal((await c.next('pingresp')).cmd, 'pingresp');
    c.send({ cmd: 'disconnect' });
    await c.closedPromise;
    await waitFor(() => !broker.clients().some((x) => x.clientId === 'ping1'), 2000, 'client gone');
  });

  it('the in-process client exchanges messages with network clients', async () => {
    const ip = await broker.connectInProcess({ clientId: 'inproc-basic' });
    const got: string[] = [];
    ip.on('message', (m) => got.push(`${m.topic}=${m.payload.toString()}@${m.qos}`));
    assert.deepEqual(await ip.subscribe([{ topicFilter: 'basics/ip/#', qos: 1 }]), [1]);
    const net = await connect(url);
    await net.publishAsync('basics/ip/x', 'from-net', { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'in-process delivery');
    assert.deepEqual(got, ['basics/ip/x=from-net@1']);
    const got2 = collect(net);
    await net.subscribeAsync('basics/net', { qos: 1 });
    const r = await ip.publish('basics/net', 'from-ip', { qos: 1 });
    assert.equal(r.reasonCode, 0);
    await waitFor(() => got2.length === 1, 5000, 'network delivery');
    assert.equal(got2[0]!.payload, 'from-ip');
    assert.equal((await ip.publish('basics/nobody', 'x')).reasonCode, 0x10);
    await ip.end();
    assert.equal(ip.connected, false);
    await net.endAsync();
  });
});
