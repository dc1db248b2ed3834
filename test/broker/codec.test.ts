import assert from 'node:assert/strict';
import * as mqttPacket from 'mqtt-packet';
import { decodeConnectFast, decodePublishFast, encodeAckFast, encodePublishFast, parseComplete } from '../../src/broker/codec';
import { RawClient, startBroker } from './helpers';

/** Deterministic pseudo-random numbers (the test must be reproducible). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
}

const TOPICS = ['a', 'a/b/c', 'sensors/ü/温度', '$SYS/x', 'x'.repeat(300), 'with space/and+plus?no'];
const SIZES = [0, 1, 100, 121, 122, 127, 128, 16380, 16384, 70000];

describe('broker core: codec fast path vs mqtt-packet', function () {
  it('encodePublishFast is byte-for-byte identical to mqtt-packet generate (v3.1.1 and v5 without properties)', () => {
    const r = rng(7);
    let n = 0;
    for (const topic of TOPICS) {
      for (const size of SIZES) {
        for (const pv of [4, 5] as const) {
          for (const qos of [0, 1, 2]) {
            const payload = Buffer.alloc(size, Math.floor(r() * 256));
            const retain = r() > 0.5;
            const dup = qos > 0 && r() > 0.5;
            const messageId = qos ? 1 + Math.floor(r() * 65534) : 0;
            const ref = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: qos as 0, retain, dup, messageId } as any, { protocolVersion: pv });
            const mine = encodePublishFast(topic, payload, qos, retain, dup, messageId, pv);
            assert.ok(mine.equals(ref), `topic=${topic.slice(0, 20)} size=${size} pv=${pv} qos=${qos}`);
            n++;
          }
        }
      }
    }
    assert.equal(n, TOPICS.length * SIZES.length * 6);
  });

  it('decodePublishFast gives the same fields as the mqtt-packet parser; declines packets with properties', () => {
    const r = rng(11);
    for (const topic of TOPICS) {
      for (const size of SIZES) {
        for (const pv of [4, 5] as const) {
          const qos = Math.floor(r() * 3);
          const packet = { cmd: 'publish', topic, payload: Buffer.alloc(size, 3), qos, retain: r() > 0.5, dup: qos > 0 && r() > 0.5, messageId: qos ? 42 : undefined };
          const buf = mqttPacket.generate(packet as any, { protocolVersion: pv });
          let hdr = 1;
          while (buf[hdr]! & 128) hdr++;
          hdr++;
          const fast = decodePublishFast(buf, hdr, pv)!;
          const ref = parseComplete(buf, pv);
          assert.ok(fast, 'handled');
          assert.ok(!(ref instanceof Error), `${String(ref)} pv=${pv} size=${size} topic=${topic.slice(0, 10)} qos=${qos}`);
          for (const k of ['topic', 'qos', 'retain', 'dup', 'messageId', 'length'] as const) assert.deepEqual(fast[k], ref[k], k);
          assert.ok(fast.payload.equals(ref.payload));
        }
      }
    }
    const withProps = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { contentType: 'a' } } as any, { protocolVersion: 5 });
    assert.equal(decodePublishFast(withProps, 2, 5), null);
  });

  it('decodeConnectFast gives the same object as mqtt-packet for 3.1, 3.1.1 and 5 (no properties), else declines', () => {
    const r = rng(3);
    let fastCount = 0;
    for (let i = 0; i < 400; i++) {
      const pv = ([3, 4, 5] as const)[i % 3]!;
      const packet: any = { cmd: 'connect', protocolId: pv === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: pv, clean: r() > 0.5, keepalive: Math.floor(r() * 65536), clientId: r() > 0.2 ? `id-${i}-ü` : '' };
      if ((pv === 3 || !packet.clean) && !packet.clientId) packet.clientId = 'x';
      if (r() > 0.5) packet.will = { topic: `w/${i}`, payload: Buffer.alloc(Math.floor(r() * 300), 5), qos: Math.floor(r() * 3), retain: r() > 0.5 };
      if (r() > 0.5) packet.username = `user${i}`;
      if (packet.username && r() > 0.5) packet.password = Buffer.from(`pw${i}`);
      if (pv === 5 && r() > 0.7) packet.properties = { sessionExpiryInterval: 60 };
      if (pv === 5 && packet.will && r() > 0.7) packet.will.properties = { willDelayInterval: 3 };
      const buf = mqttPacket.generate(packet, { protocolVersion: pv });
      let hdr = 1;
      while (buf[hdr]! & 128) hdr++;
      hdr++;
      const fast = decodeConnectFast(buf, hdr);
      const ref = parseComplete(buf, 4);
      assert.ok(!(ref instanceof Error), String(ref));
      if (packet.properties || packet.will?.properties) {
        assert.equal(fast, null, 'declines packets with properties');
        continue;
      }
      fastCount++;
      assert.deepEqual({ ...fast }, { ...ref }, `connect #${i}`);
    }
    assert.ok(fastCount > 200);
    // malformed ones are left to mqtt-packet
    assert.equal(decodeConnectFast(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00]), 2), null, 'reserved flag');
    assert.equal(decodeConnectFast(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00]), 2), null, 'version 6');
  });

  it('the shared parser is not switched to MQTT 5 by a v5 CONNECT (later 3.1.1 packets parse as 3.1.1)', () => {
    const connect5 = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'x' } as any, { protocolVersion: 5 });
    assert.equal(parseComplete(connect5, 4).protocolVersion, 5);
    const sub4 = mqttPacket.generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 1 }] } as any, { protocolVersion: 4 });
    const p = parseComplete(sub4, 4);
    assert.deepEqual(p.subscriptions.map((x: any) => [x.topic, x.qos]), [['a/b', 1]]);
  });

  it('encodeAckFast matches mqtt-packet for PUBACK/PUBREC/PUBREL/PUBCOMP with reason 0', () => {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp']) {
      for (const pv of [4, 5] as const) {
        for (const id of [1, 255, 256, 65535]) {
          const ref = mqttPacket.generate({ cmd, messageId: id, reasonCode: 0 } as any, { protocolVersion: pv });
          assert.ok(encodeAckFast(cmd, id).equals(ref), `${cmd} v${pv} ${id}`);
        }
      }
    }
  });

  it('frames packets split at every byte and packets coalesced in one chunk', async () => {
    const { broker } = await startBroker();
    const sub = await broker.connectInProcess({ clientId: 'framing-sub' });
    const got: string[] = [];
    sub.on('message', (m) => got.push(m.payload.toString()));
    await sub.subscribe([{ topicFilter: 'frame/#', qos: 0 }]);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'framing' });
    const one = mqttPacket.generate({ cmd: 'publish', topic: 'frame/a', payload: Buffer.alloc(300, 97), qos: 1, messageId: 9, retain: false, dup: false } as any, { protocolVersion: 5 });
    for (const b of one) c.writeRaw(Buffer.from([b]));
    assert.equal((await c.next('puback')).messageId, 9);
    const many = Buffer.concat(['1', '2', '3'].map((p) => mqttPacket.generate({ cmd: 'publish', topic: 'frame/b', payload: Buffer.from(p), qos: 0, retain: false, dup: false, properties: { userProperties: { k: p } } } as any, { protocolVersion: 5 })));
    c.writeRaw(many);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    assert.deepEqual(got, ['a'.repeat(300), '1', '2', '3']);
    c.end();
    await broker.close();
  });
});
