/**
 * mqtt5-client features against our broker: birth / will / close messages with MQTT 5 properties,
 * reconnect after an administrative disconnect (reason in the status), mqtts:// with a Node-RED
 * tls-config node (and the TLS error in the status without the CA), ws://, automatic topic aliases.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core tls-config node is CommonJS */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { delay, freePort, waitFor } from '../helpers/env';
import {
  collect,
  connectClient,
  endClient,
  helper,
  inject,
  NODES,
  publish,
  observers,
  subscribe,
  TAB,
  useHelper,
  waitConnected,
  waitStatus,
} from './mqtt5-harness';

const TLS_NODE = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', 'network', '05-tls.js'));
const ALL = [...NODES, TLS_NODE];

describe('mqtt5-client features × embedded broker', function () {
  this.timeout(30000);
  let broker: Broker;
  let tcp: string;
  let tlsPort: number;
  let wsPort: number;
  let dir: string;
  useHelper();
  let sub: mqtt.MqttClient | undefined;

  before(async function () {
    // test-only certificates shipped with the tests (see mqtt5-fixtures/README.md)
    dir = path.join(__dirname, 'mqtt5-fixtures');
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    tlsPort = p2;
    wsPort = p3;
    broker = createBroker({
      sysInterval: 0,
      listeners: [
        { type: 'tcp', port: p1, host: '127.0.0.1' },
        { type: 'tls', port: p2, host: '127.0.0.1', key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.crt')) },
        { type: 'ws', port: p3, host: '127.0.0.1', path: '/mqtt' },
      ],
    });
    await broker.listen();
    tcp = `mqtt://127.0.0.1:${p1}`;
  });
  after(async function () {
    await broker?.close();
  });
  afterEach(async function () {
    await endClient(sub);
    sub = undefined;
  });

  it('publishes birth on every connect, will when the connection is lost, close on shutdown; shows why it was disconnected', async function () {
    sub = await connectClient(tcp);
    const got: Array<{ payload: string; packet: mqtt.IPublishPacket }> = [];
    sub.on('message', (_t, p, packet) => got.push({ payload: p.toString(), packet }));
    await subscribe(sub, 'feat/status');
    await helper.load(ALL, [
      TAB,
      {
        id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: tcp, clientId: 'feat-client', reconnectPeriod: 200, reconnectMax: 500,
        birthTopic: 'feat/status', birthPayload: 'online', birthQos: '1', birthContentType: 'text/plain', birthUserProps: [{ key: 'node', value: 'nr1' }],
        willTopic: 'feat/status', willPayload: 'lost', willQos: '1', willUserProps: [{ key: 'why', value: 'will' }],
        closeTopic: 'feat/status', closePayload: 'offline', closeQos: '1',
      },
      { id: 'o', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'feat/x', wires: [] },
      ...observers(),
    ]);
    const statuses = collect('statuses');
    await waitFor(() => got.some((m) => m.payload === 'online'), 10000, 'birth');
    const birth = got.find((m) => m.payload === 'online')!;
    assert.equal(birth.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...birth.packet.properties?.userProperties }, { node: 'nr1' });
    assert.equal(broker.disconnectClient('feat-client', 0x98), true);
    await waitStatus(statuses, /administrative action/, 10000);
    await waitFor(() => got.some((m) => m.payload === 'lost'), 10000, 'will');
    assert.deepEqual({ ...got.find((m) => m.payload === 'lost')!.packet.properties?.userProperties }, { why: 'will' });
    await waitFor(() => got.filter((m) => m.payload === 'online').length === 2, 10000, 'birth after reconnect');
    await helper.unload();
    await waitFor(() => got.some((m) => m.payload === 'offline'), 10000, 'close message');
    assert.equal(got.filter((m) => m.payload === 'lost').length, 1, 'no will on a clean close');
  });

  it('mqtts:// with a tls-config node (CA verified); without the CA the status shows the TLS error', async function () {
    await helper.load(ALL, [
      TAB,
      { id: 'tls1', type: 'tls-config', cert: '', key: '', ca: path.join(dir, 'ca.crt'), verifyservercert: true, servername: '' },
      { id: 'tls2', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true, servername: '' },
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: `mqtts://127.0.0.1:${tlsPort}`, usetls: true, tls: 'tls1', reconnectPeriod: 200 },
      { id: 'c2', type: 'mqtt5-client', brokerType: 'external', broker: `mqtts://127.0.0.1:${tlsPort}`, usetls: true, tls: 'tls2', reconnectPeriod: 200 },
      { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'tls/t', qos: '1', wires: [['h']] },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'tls/t', qos: '1', wires: [] },
      { id: 'bad', type: 'mqtt5-out', z: 'f1', client: 'c2', topic: 'tls/t', qos: '1', wires: [] },
      { id: 'h', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const h = collect('h');
    const statuses = collect('statuses');
    await waitConnected('c1');
    await delay(200);
    inject('out', { payload: 'secure' });
    await waitFor(() => h.length === 1, 10000, 'message over TLS');
    assert.equal(h[0].payload, 'secure');
    const st = await waitStatus(statuses, /TLS|certificate/i, 15000);
    assert.equal(st.status.source.id, 'bad');
  });

  it('ws:// connects and round-trips', async function () {
    await helper.load(ALL, [
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: `ws://127.0.0.1:${wsPort}/mqtt`, reconnectPeriod: 200 },
      { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'ws/t', qos: '1', wires: [['h']] },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'ws/t', qos: '1', wires: [] },
      { id: 'h', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const h = collect('h');
    await waitConnected('c1');
    await delay(200);
    inject('out', { payload: { over: 'ws' } });
    await waitFor(() => h.length === 1, 10000, 'message over WebSocket');
    assert.deepEqual(h[0].payload, { over: 'ws' });
  });

  it('assigns topic aliases automatically: repeated topics go out with an alias and an empty topic', async function () {
    await helper.load(ALL, [
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: tcp, reconnectPeriod: 200, topicAliases: true },
      { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'alias/+', qos: '1', wires: [['h']] },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'alias/a-rather-long-topic-name', qos: '1', wires: [] },
      { id: 'h', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const h = collect('h');
    await waitConnected('c1');
    const sent: Array<{ topic: string; alias?: number }> = [];
    const client = (helper.getNode('c1').controller.connection as any).client as mqtt.MqttClient;
    client.on('packetsend', (p: any) => {
      if (p.cmd === 'publish') sent.push({ topic: p.topic, alias: p.properties?.topicAlias });
    });
    await delay(200);
    for (let i = 0; i < 3; i++) inject('out', { payload: String(i) });
    await waitFor(() => h.length === 3, 10000, 'aliased messages');
    assert.deepEqual(h.map((m) => [m.topic, m.payload]), [0, 1, 2].map((i) => ['alias/a-rather-long-topic-name', String(i)]));
    assert.equal(sent.length, 3);
    assert.ok(sent[0]!.alias && sent[0]!.topic === 'alias/a-rather-long-topic-name', JSON.stringify(sent));
    assert.ok(sent.slice(1).every((s) => s.alias === sent[0]!.alias && s.topic === ''), JSON.stringify(sent));
  });

  it('offline queue is bounded: a message beyond its size is refused with an error (Catch), the status shows the queue depth', async function () {
    const port = await freePort(); // nothing listens there
    await helper.load(ALL, [
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: `mqtt://127.0.0.1:${port}`, queueSize: 2, reconnectPeriod: 200 },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'q/full', qos: '1', wires: [] },
      ...observers(),
    ]);
    const caught = collect('caught');
    const statuses = collect('statuses');
    await waitStatus(statuses, /connection refused/, 10000);
    for (let i = 0; i < 3; i++) inject('out', { payload: String(i) });
    await waitFor(() => caught.length === 1, 10000, 'queue full error');
    assert.match(caught[0].error.message, /offline queue is full \(2 messages\)/);
    assert.equal(caught[0].payload, '2');
    await waitStatus(statuses, /2 queued/, 10000);
  });

  it('persistent session (clean start off, session expiry): messages published while the flow was stopped arrive after redeploy', async function () {
    const flow = [
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: tcp, clientId: 'persistent-1', cleanStart: false, sessionExpiry: 300, reconnectPeriod: 200 },
      { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'persist/#', qos: '1', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f1' },
    ];
    await helper.load(ALL, flow);
    await waitConnected('c1');
    await delay(200);
    await helper.unload(); // clean disconnect; the broker keeps the session for 300 s
    const pub = await connectClient(tcp);
    try {
      await publish(pub, 'persist/a', 'while-away', { qos: 1 });
    } finally {
      await endClient(pub);
    }
    await helper.load(ALL, flow);
    const h = collect('h');
    await waitFor(() => h.length === 1, 10000, 'queued message after reconnect');
    assert.equal(h[0].payload, 'while-away');
    assert.equal(h[0].topic, 'persist/a');
  });
});
