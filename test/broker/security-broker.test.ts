/**
 * Security hooks inside the real broker, seen by real mqtt.js clients (MQTT 5 and 3.1.1):
 * CONNACK codes, SUBACK/PUBACK 0x87, and read ACL at delivery.
 */
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { hashPassword } from '../../src/broker/security';
import { delay, waitFor } from '../helpers/env';
import { connect, startBroker, type TestBroker } from './helpers';

describe('security in the broker (mqtt.js clients)', function () {
  this.timeout(30000);
  let broker: TestBroker;
  let url: string;
  const clients: mqtt.MqttClient[] = [];

  before(async () => {
    ({ broker, url } = await startBroker({
      users: [
        { username: 'alice', password: 'alice-pw' },
        { username: 'bob', passwordHash: hashPassword('bob-pw') },
      ],
      allowAnonymous: true,
      acl: [
        { topic: 'public/#', access: 'read' },
        { user: 'alice', topic: 'sensors/#', access: 'readwrite' },
        { user: 'alice', topic: 'sensors/secret/#', access: 'deny' },
        { user: 'alice', topic: 'public/#', access: 'write' },
        { user: 'bob', topic: 'sensors/#', access: 'write' },
        { topic: 'devices/%u/#', access: 'readwrite' },
      ],
    }));
  });
  after(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    await broker.close();
  });
  async function client(opts: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
    const c = await connect(url, opts);
    clients.push(c);
    return c;
  }
  async function connackCode(opts: mqtt.IClientOptions): Promise<number> {
    try {
      const c = await client(opts);
      await c.endAsync();
      return 0;
    } catch (e) {
      return (e as { code?: number }).code ?? -1;
    }
  }

  it('CONNACK: 0 for good credentials and anonymous, 0x86 for a wrong password or an unknown user', async () => {
    assert.equal(await connackCode({ username: 'alice', password: 'alice-pw' }), 0);
    assert.equal(await connackCode({ username: 'bob', password: 'bob-pw' }), 0);
    assert.equal(await connackCode({}), 0);
    assert.equal(await connackCode({ username: 'alice', password: 'nope' }), 0x86);
    assert.equal(await connackCode({ username: 'mallory', password: 'alice-pw' }), 0x86);
  });

  it('MQTT 3.1.1: a wrong password gets CONNACK return code 4', async () => {
    assert.equal(await connackCode({ protocolVersion: 4, username: 'alice', password: 'nope' }), 4);
  });

  it('SUBACK 0x87 outside the read ACL; PUBACK 0x87 outside the write ACL', async () => {
    const bob = await client({ username: 'bob', password: 'bob-pw' });
    // mqtt.js rejects when a reason code is >= 0x80; the SUBACK is on the error
    const err = await bob.subscribeAsync({ 'sensors/#': { qos: 1 }, 'public/+': { qos: 1 } }).then(
      () => assert.fail('SUBACK should carry a failure code'),
      (e: { packet?: { granted?: number[] } }) => e,
    );
    assert.deepEqual(err.packet?.granted, [0x87, 1]);
    const anon = await client({});
    const ack = await new Promise<number | undefined>((resolve, reject) =>
      anon.publish('sensors/x', 'v', { qos: 1 }, (err, packet) => (err ? ((err as { code?: number }).code !== undefined ? resolve((err as { code?: number }).code) : reject(err)) : resolve((packet as { reasonCode?: number })?.reasonCode))),
    );
    assert.equal(ack, 0x87);
  });

  it('delivers only topics the reader may read (deny carve-out, %u)', async () => {
    const alice = await client({ username: 'alice', password: 'alice-pw' });
    const seen: string[] = [];
    alice.on('message', (t) => seen.push(t));
    const g = await alice.subscribeAsync('sensors/#', { qos: 1 });
    assert.equal(g[0].qos, 1);
    const bob = await client({ username: 'bob', password: 'bob-pw' });
    await bob.publishAsync('sensors/secret/key', 'k', { qos: 1 });
    await bob.publishAsync('sensors/kitchen', 't', { qos: 1 });
    await bob.publishAsync('devices/bob/state', 'on', { qos: 1 }); // bob may write his own device topic
    await waitFor(() => seen.includes('sensors/kitchen'), 10000, 'allowed delivery');
    await delay(200);
    assert.deepEqual(seen, ['sensors/kitchen']);
  });
});
