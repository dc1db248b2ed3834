/**
 * FileStore behind the real broker with real mqtt.js clients: retained messages, a persistent
 * session and its queued QoS 1 messages survive a broker restart over the same directory.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import mqtt from 'mqtt';
import { FileStore } from '../../src/broker/store';
import { tmpDir, waitFor } from '../helpers/env';
import { connect, startBroker, type TestBroker } from './helpers';

describe('FileStore with the broker (restart)', function () {
  this.timeout(30000);
  let dir: string;
  const brokers: TestBroker[] = [];
  const clients: mqtt.MqttClient[] = [];
  beforeEach(() => (dir = tmpDir('filestore-broker-')));
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    for (const b of brokers.splice(0)) await b.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<string> {
    const { broker, url } = await startBroker({ store: new FileStore({ dir, flush: 'always' }) });
    brokers.push(broker);
    return url;
  }
  async function client(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const c = await connect(url, opts);
    clients.push(c);
    return c;
  }

  it('keeps retained messages, the session and its queued QoS 1 messages across a restart', async () => {
    let url = await start();
    const sub = await client(url, { clientId: 'durable-sub', clean: false, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync('q/#', { qos: 1 });
    await sub.endAsync();
    const pub = await client(url, { clientId: 'pub' });
    await pub.publishAsync('r/config', 'retained-value', { qos: 1, retain: true });
    for (let i = 1; i <= 5; i++) await pub.publishAsync(`q/${i}`, `m${i}`, { qos: 1 });
    await pub.endAsync();
    await brokers.pop()!.close();

    url = await start();
    const got: string[] = [];
    const c = mqtt.connect(url, { protocolVersion: 5, clientId: 'durable-sub', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    clients.push(c);
    c.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    assert.equal(connack.sessionPresent, true, 'session restored from the FileStore');
    await waitFor(() => got.length >= 5, 10000, 'queued messages');
    assert.deepEqual(got, ['q/1=m1', 'q/2=m2', 'q/3=m3', 'q/4=m4', 'q/5=m5']);

    const reader = await client(url, { clientId: 'reader' });
    const retained = new Promise<string>((resolve) => reader.once('message', (_t, p) => resolve(p.toString())));
    await reader.subscribeAsync('r/config', { qos: 1 });
    assert.equal(await retained, 'retained-value');
  });
});
