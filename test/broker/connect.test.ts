import assert from 'node:assert/strict';
import { connect, RawClient, startBroker, type TestBroker } from './helpers';
import { createBroker } from '../../src/broker';

describe('broker core: CONNECT / CONNACK', function () {
  let broker: TestBroker;
  let url: string;
  before(async () => {
    ({ broker, url } = await startBroker({ limits: { keepAliveMax: 30, receiveMaximum: 50, maxPacketSize: 65536 }, responseInformation: 'resp/' }));
  });
  after(async () => {
    await broker.close();
  });

  it('accepts MQTT 3.1, 3.1.1 and 5.0 on the same listener', async () => {
    for (const v of [3, 4, 5] as const) {
      const c = new RawClient(broker, v);
      const ack = await c.connect({ clientId: `v${v}` });
      assert.equal(v === 5 ? ack.reasonCode : ack.returnCode, 0, `protocol level ${v}`);
      c.end();
    }
    const m = await connect(url, { protocolVersion: 3, clientId: 'mqttjs31' });
    assert.equal(m.connected, true);
    await m.endAsync();
  });

  it('advertises its limits in CONNACK (MQTT 5) and sends Response Information when asked', async () => {
    const c = new RawClient(broker, 5);
    const ack = await c.connect({ clientId: 'caps', properties: { requestResponseInformation: true } });
    assert.equal(ack.properties.receiveMaximum, 50);
    assert.equal(ack.properties.maximumPacketSize, 65536);
    assert.equal(ack.properties.topicAliasMaximum, 65535);
    assert.equal(ack.properties.responseInformation, 'resp/');
    c.end();
  });

  it('assigns a client id for an empty one: MQTT 5 always, MQTT 3.1.1 only with clean session', async () => {
    const c5 = new RawClient(broker, 5);
    const a5 = await c5.connect({ clientId: '' });
    assert.equal(a5.reasonCode, 0);
    assert.ok(a5.properties.assignedClientIdentifier.length > 0);
    c5.end();
    const c4 = new RawClient(broker, 4);
    assert.equal((await c4.connect({ clientId: '', clean: true })).returnCode, 0);
    c4.end();
    const c4b = new RawClient(broker, 4);
    // [MQTT-3.1.3-8] identifier rejected
    // CONNECT 3.1.1, clean session 0, empty client id (mqtt-packet refuses to generate it)
    c4b.writeRaw(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]));
    assert.equal((await c4b.next('connack')).returnCode, 2);
    await c4b.closedPromise;
  });

  it('answers Server Keep Alive when the client asks for more than keepAliveMax', async () => {
    const c = new RawClient(broker, 5);
    const ack = await c.connect({ clientId: 'ka', keepalive: 600 });
    assert.equal(ack.properties.serverKeepAlive, 30);
    c.end();
    const z = new RawClient(broker, 5);
    assert.equal((await z.connect({ clientId: 'ka0', keepalive: 0 })).properties.serverKeepAlive, 30, 'no keep alive is above the bound too');
    z.end();
    const ok = new RawClient(broker, 5);
    assert.equal((await ok.connect({ clientId: 'ka20', keepalive: 20 })).properties.serverKeepAlive, undefined);
    ok.end();
  });

  it('closes an idle client after 1.5 x keep alive with DISCONNECT 0x8D', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'ka-timeout', keepalive: 1 });
    const d = await c.next('disconnect', 6000);
    assert.equal(d.reasonCode, 0x8d);
    await c.closedPromise;
  });

  it('rejects a second CONNECT (0x82) and packets before CONNECT', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'twice' });
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'twice' });
    assert.equal((await c.next('disconnect')).reasonCode, 0x82);
    await c.closedPromise;
    const d = new RawClient(broker, 4);
    d.send({ cmd: 'pingreq' });
    await d.closedPromise;
    assert.equal(d.packets.length, 0);
  });

  it('answers an unsupported protocol level with CONNACK 0x01 and closes', async () => {
    const c = new RawClient(broker, 4);
    // CONNECT with protocol level 6
    c.writeRaw(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]));
    const ack = await c.next('connack');
    assert.equal(ack.returnCode, 1);
    await c.closedPromise;
  });

  it('closes a connection that sends no CONNECT within connectTimeoutMs', async function () {
    this.timeout(10000);
    const b = createBroker({ sysInterval: 0, limits: { connectTimeoutMs: 100 } });
    const c = new RawClient(b, 5);
    const t0 = Date.now();
    await c.closedPromise;
    assert.ok(Date.now() - t0 < 9000);
    await b.close();
  });

  it('refuses connections above maxConnections with 0x97 Quota exceeded (3.1.1: 3)', async () => {
    const b = createBroker({ sysInterval: 0, limits: { maxConnections: 1 } });
    const a = new RawClient(b, 5);
    assert.equal((await a.connect({ clientId: 'first' })).reasonCode, 0);
    const x = new RawClient(b, 5);
    assert.equal((await x.connect({ clientId: 'second' })).reasonCode, 0x97);
    const y = new RawClient(b, 4);
    assert.equal((await y.connect({ clientId: 'third' })).returnCode, 3);
    a.end();
    await b.close();
  });
});
