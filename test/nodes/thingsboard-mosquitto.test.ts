/**
 * thingsboard-telemetry → Node-RED core `mqtt out` (MQTT 5) → a real Mosquitto limited to
 * 65,536-byte packets → a real mqtt.js subscriber: the formatter's output is published unchanged,
 * split outputs each pass the broker's size limit (MQTT 5 properties counted), an output exactly
 * at the budget passes, one byte more is refused before sending, and an unsplit payload of the
 * same data is refused by the broker (so the limit really bites in this setup).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { delay, ROOT, tmpDir, waitFor } from '../helpers/env';
import { startMosquitto, type MosquittoInstance } from '../helpers/mosquitto';
import { payloadBudget, mqtt5PropertyBytes } from '../../src/thingsboard';
import { packetSize } from '../thingsboard/tb-checker';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tbNode = require(path.join(ROOT, 'nodes', 'thingsboard-telemetry.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mqttNodes = require(require.resolve('@node-red/nodes/core/network/10-mqtt.js'));

type Msg = Record<string, any>;
const T = 'v1/devices/me/telemetry';

describe('thingsboard-telemetry → core mqtt out → mosquitto (65,536-byte packet limit)', function () {
  this.timeout(60000);
  let broker: MosquittoInstance;
  let sub: MqttClient;
  let previousSettings: unknown;
  const received: { topic: string; payload: string; props: Msg }[] = [];

  before(async function () {
    broker = await startMosquitto(this, { extraConfig: ['max_packet_size 65536'] });
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000 });
    sub.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString('utf8'), props: packet.properties ?? {} }));
    await sub.subscribeAsync('v1/#', { qos: 1 });
    previousSettings = helper._settings;
    helper.init(require.resolve('node-red'), { userDir: tmpDir('mqtt5hub-tbmq-') });
    const flow = [
      { id: 'f1', type: 'tab', label: 'tb' },
      { id: 'tb', z: 'f1', type: 'thingsboard-telemetry', name: 'formatter', x: 100, y: 100, wires: [['mo', 'seen']] },
      { id: 'seen', z: 'f1', type: 'helper', x: 300, y: 50 },
      { id: 'mo', z: 'f1', type: 'mqtt out', name: 'to broker', topic: '', qos: '1', retain: 'false', broker: 'b1', x: 300, y: 100, wires: [] },
      { id: 'b1', type: 'mqtt-broker', name: 'mosquitto', broker: '127.0.0.1', port: String(broker.port), clientid: '', autoConnect: true,
        usetls: false, protocolVersion: '5', keepalive: '60', cleansession: true },
      { id: 'c1', z: 'f1', type: 'catch', scope: null, uncaught: false, x: 100, y: 200, wires: [['caught']] },
      { id: 'caught', z: 'f1', type: 'helper', x: 300, y: 200 },
    ];
    await new Promise<void>((resolve) => helper.load([tbNode, mqttNodes], flow, () => resolve()));
    await waitFor(() => helper.getNode('b1')?.connected === true, 15000, 'mqtt-broker node connected to mosquitto');
  });

  after(async () => {
    await helper.unload();
    if (previousSettings) helper._settings = previousSettings;
    await sub?.endAsync(true);
    await broker?.stop();
  });

  it('split outputs arrive unchanged, each within the limit, with the MQTT 5 properties of the message', async () => {
    const seen: Msg[] = [];
    helper.getNode('seen').on('input', (m: Msg) => seen.push(m));
    const start = received.length;
    const values = { a: 'a'.repeat(32000), b: 'b'.repeat(32000), c: 'c'.repeat(32000) };
    const extra = { contentType: 'application/json', userProperties: { source: 'node-red' } };
    helper.getNode('tb').receive({ payload: { ts: 1700000000000, values }, ...extra });
    await waitFor(() => received.length - start === 2 && seen.length === 2, 15000, 'two publishes at the subscriber');
    const got = received.slice(start);
    assert.deepEqual(got.map((r) => r.payload), seen.map((m) => m.payload), 'published unchanged, in order');
    assert.deepEqual(got.map((r) => r.topic), [T, T]);
    const keys = got.flatMap((r) => Object.keys((JSON.parse(r.payload) as { values: object }).values));
    assert.deepEqual(keys, ['a', 'b', 'c']);
    for (const r of got) {
      assert.equal(r.props.contentType, 'application/json');
      assert.ok(packetSize(T, r.payload, mqtt5PropertyBytes(extra)) <= 65536);
    }
  });

  it('an output exactly at the budget passes the broker; one byte more is refused before sending', async () => {
    const budget = payloadBudget(T, 65536, 0);
    const head = '{"ts":1700000000000,"values":{"k":"';
    const tail = '"}}';
    const exact = 'e'.repeat(budget - head.length - tail.length);
    assert.equal(packetSize(T, head + exact + tail, 0), 65536);
    const start = received.length;
    const caught: Msg[] = [];
    helper.getNode('caught').on('input', (m: Msg) => caught.push(m));
    helper.getNode('tb').receive({ payload: { ts: 1700000000000, values: { k: exact } } });
    await waitFor(() => received.length > start, 15000, 'the 65,536-byte publish at the subscriber');
    assert.equal(received[start]!.payload, head + exact + tail);

    helper.getNode('tb').receive({ payload: { ts: 1700000000000, values: { k: `${exact}e` } } });
    const c = await waitFor(() => caught[0], 5000, 'caught TOO_LARGE');
    assert.match(c.error.message, /alone needs 65505 bytes.*limit is 65504/);
    await delay(300);
    assert.equal(received.length, start + 1, 'nothing published for the oversized value');
    assert.equal(helper.getNode('b1').connected, true, 'connection kept');
  });

  it('control: the same data unsplit is refused by this broker', async () => {
    const direct = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const big = JSON.stringify({ a: 'a'.repeat(32000), b: 'b'.repeat(32000), c: 'c'.repeat(32000) });
    const outcome = await Promise.race([
      direct.publishAsync(T, big, { qos: 1 }).then(() => 'acknowledged'),
      new Promise<string>((r) => direct.once('close', () => r('closed'))),
    ]).catch(() => 'closed');
    direct.end(true);
    assert.equal(outcome, 'closed');
  });
});
