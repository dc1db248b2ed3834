import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import { connect, RawClient, startBroker, type TestBroker } from './helpers';
import { waitFor } from '../helpers/env';
import { MemoryStore } from '../../src/broker';

describe('broker core: bad input and slow clients', function () {
  let broker: TestBroker;
  let port: number;
  let url: string;
  const errors: Error[] = [];
  before(async () => {
    ({ broker, port, url } = await startBroker({ limits: { maxPacketSize: 64 * 1024, maxQueued: 50 } }));
    broker.on('clientError', (e) => errors.push(e.error));
  });
  after(async () => {
    await broker.close();
  });

  it('garbage before CONNECT closes only that connection', async () => {
    const c = new RawClient(broker, 5);
    c.writeRaw(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await c.closedPromise;
    const ok = await connect(url);
    assert.equal(ok.connected, true);
    await ok.endAsync();
  });

  it('malformed packets after CONNECT -> DISCONNECT 0x81 and close (MQTT 5)', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'malformed' });
    c.writeRaw(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])); // PUBLISH with QoS 3
    assert.equal((await c.next('disconnect')).reasonCode, 0x81);
    await c.closedPromise;
    const d = new RawClient(broker, 4);
    await d.connect({ clientId: 'bad-varint' });
    d.writeRaw(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])); // 5-byte Remaining Length
    await d.closedPromise;
  });

  it('a header announcing a huge packet is refused at once (0x95) without buffering it', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'huge' });
    c.writeRaw(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // 268 MB PUBLISH header only
    assert.equal((await c.next('disconnect')).reasonCode, 0x95);
    await c.closedPromise;
  });

  it('protocol violations get the right reason: server packet from client, wildcard topic, sub id in PUBLISH, packet id 0, DUP at QoS 0', async () => {
    const cases: Array<[any, number]> = [
      [{ cmd: 'suback', messageId: 1, granted: [0] }, 0x82],
      [{ cmd: 'publish', topic: 'a/+', payload: 'x', qos: 0 }, 0x90],
      [{ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 0, properties: { subscriptionIdentifier: 3 } }, 0x82],
      [{ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 1, messageId: 0 }, 0x82],
      [{ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 0, dup: true }, 0x81],
      [{ cmd: 'subscribe', messageId: 0, subscriptions: [{ topic: 'a', qos: 0 }] }, 0x82],
    ];
    for (const [packet, rc] of cases) {
      const c = new RawClient(broker, 5);
      await c.connect({ clientId: `viol-${rc}` });
      c.writeRaw(mqttPacket.generate(packet, { protocolVersion: 5 }));
      assert.equal((await c.next('disconnect')).reasonCode, rc, JSON.stringify(packet));
      await c.closedPromise;
    }
  });

  it('a subscriber that stops reading: QoS 0 is dropped and counted, QoS 1 queue is bounded; the broker buffer stays bounded', async function () {
    this.timeout(30000);
    // a raw TCP client that connects, subscribes and then never reads
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'stalled' } as any));
    sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/#', qos: 1 }] } as any));
    await waitFor(() => broker.clients().find((c) => c.clientId === 'stalled')?.subscriptions.length === 1, 5000, 'subscribed');
    sock.pause();
    const drops: string[] = [];
    const onDrop = (d: { reason: string }): void => void drops.push(d.reason);
    broker.on('messageDropped', onDrop);
    const payload = Buffer.alloc(32 * 1024, 7);
    const dropped0 = broker.stats().messagesDropped;
    for (let i = 0; i < 400; i++) {
      await broker.publish({ topic: 'slow/0', payload, qos: 0 });
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 300; i++) await broker.publish({ topic: 'slow/1', payload: 'q', qos: 1 });
    broker.off('messageDropped', onDrop);
    const info = broker.clients().find((c) => c.clientId === 'stalled')!;
    assert.ok(broker.stats().messagesDropped > dropped0, 'drops are counted');
    assert.ok(drops.some((r) => r.includes('backpressure')), 'QoS 0 dropped for backpressure');
    assert.ok(info.queued <= 50, `queue bounded by maxQueued (${info.queued})`);
    assert.ok(drops.some((r) => r === 'queue full'));
    // the broker still serves others
    const ok = await connect(url);
    await ok.endAsync();
    // close() finishes within its timeout with the stalled client still connected
    const t0 = Date.now();
    const b = broker;
    await b.close({ timeoutMs: 2000 });
    assert.ok(Date.now() - t0 < 8000, `close took ${Date.now() - t0} ms`);
    sock.destroy();
    ({ broker, port, url } = await startBroker());
  });

  it('a throwing event listener or a failing store does not break the broker', async () => {
    const store = new MemoryStore();
    store.saveSession = () => {
      throw new Error('disk on fire');
    };
    const { broker: b, url: u } = await startBroker({ store });
    const errs: string[] = [];
    b.on('clientError', (e) => errs.push(e.error.message));
    b.on('clientConnected', () => {
      throw new Error('listener bug');
    });
    const c = await connect(u, { clientId: 'store-fails', clean: false, properties: { sessionExpiryInterval: 60 } });
    await c.subscribeAsync('x/y', { qos: 1 });
    assert.equal(c.connected, true);
    await c.endAsync();
    await waitFor(() => errs.some((m) => m.includes('listener bug')) && errs.some((m) => m.includes('disk on fire')), 3000, 'errors reported');
    await b.close();
  });

  it('never throws out of the library on bad input (no clientError for protocol errors)', () => {
    for (const e of errors) assert.ok(!/internal error/.test(e.message), e.message);
  });
});
