/**
 * mqtt5-broker in Node-RED (node-red-node-test-helper, the BUILT node) with real clients:
 * mqtt.js over TCP, TLS (openssl-made certificates, a core tls-config node) and WebSocket (own
 * port and Node-RED's HTTP server), mosquitto_pub / mosquitto_sub, users + ACL, events, input
 * actions, and deploy handover (full deploy keeps clients; changes restart only what changed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { delay, freePort, requireTool, ROOT, tmpDir, waitFor } from '../helpers/env';
import { makeTlsFiles } from '../e2e/broker-helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const brokerNode = require(path.join(ROOT, 'nodes', 'mqtt5-broker.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tlsNode = require(require.resolve('@node-red/nodes/core/network/05-tls.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const handover = require(path.join(ROOT, 'nodes', 'lib', 'nodes', 'mqtt5-broker', 'handover.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const registry = require(path.join(ROOT, 'nodes', 'lib', 'nodes', 'shared', 'broker-registry.js'));

const userDir = tmpDir('mqtt5hub-brokernode-');

type Msg = Record<string, any>;

/** Collects what a helper node receives. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => got.push(m));
  return got;
}

/** Waits until a collected message satisfies `pred` and returns it. */
async function waitMsg(list: Msg[], pred: (m: Msg) => boolean, what: string, timeoutMs = 5000): Promise<Msg> {
  const m = await waitFor(() => list.find(pred), timeoutMs, what);
  return m as Msg;
}

function lastStatus(id: string): { fill?: string; text?: string } {
  const n = helper.getNode(id);
  if (!n) return {};
  // the helper spies on Node.prototype.status: keep the calls made on this node
  const calls = ((n.status as any).getCalls?.() ?? []).filter((c: any) => c.thisValue === n);
  return calls.length ? calls[calls.length - 1].args[0] : {};
}

const clients: MqttClient[] = [];
function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', (e) => reject(e));
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** Flow nodes need x/y (without them Node-RED treats a node as a config node). */
function placed(nodes: Msg[]): Msg[] {
  return nodes.map((n) => (n.type === 'tab' || n.type === 'tls-config' || 'x' in n ? n : { x: 100, y: 100, ...n }));
}

function brokerFlow(id: string, props: Msg, wires: string[][] = [['events'], ['copies']]): Msg[] {
  return placed([
    { id: 'f1', type: 'tab', label: 'test' },
    { id, z: 'f1', type: 'mqtt5-broker', name: 'b', sysInterval: 0, tcpHost: '127.0.0.1', wires, ...props },
    { id: 'events', z: 'f1', type: 'helper' },
    { id: 'copies', z: 'f1', type: 'helper' },
  ]);
}

function run(cmd: string, args: string[], timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} failed: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('mqtt5-broker node', function () {
  this.timeout(30000);

  before(function () {
    // in a hook, not at load time: other suites init the shared helper with their own settings
    helper.init(require.resolve('node-red'), { userDir, httpNodeRoot: '/red/' });
  });

  afterEach(async function () {
    for (const c of clients.splice(0)) c.end(true);
    await helper.unload();
    await handover.settled();
    await handover.closeAllParked();
  });

  after(function () {
    helper.init(require.resolve('node-red'));
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves TCP clients, reports events, copies publishes and publishes its input', async function () {
    const port = await freePort();
    await helper.load([brokerNode], brokerFlow('b1', { tcpPort: port, copyTopic: 'copy/#' }));
    const events = collect('events');
    const copies = collect('copies');
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
    assert.match(lastStatus('b1').text ?? '', new RegExp(`tcp:127.0.0.1:${port} \\| 0 clients`));

    const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'c1' });
    const conn = await waitMsg(events, (m) => m.topic === 'connected', 'connected event');
    assert.equal(conn.payload.clientId, 'c1');
    assert.equal(conn.payload.protocolVersion, 5);
    assert.match(String(conn.payload.address), /127\.0\.0\.1/);
    await waitFor(() => /1 client\b/.test(lastStatus('b1').text ?? ''), 5000, 'status with 1 client');

    await c.subscribeAsync('in/#', { qos: 1 });
    const sub = await waitMsg(events, (m) => m.topic === 'subscribed', 'subscribed event');
    assert.equal(sub.payload.subscriptions[0].topicFilter, 'in/#');

    await c.publishAsync('copy/x', 'hello', { qos: 1, properties: { userProperties: { a: '1' }, contentType: 'text/plain' } });
    await c.publishAsync('other/x', 'not copied', { qos: 0 });
    const cp = await waitMsg(copies, (m) => m.topic === 'copy/x', 'copy');
    assert.equal(cp.payload, 'hello');
    assert.equal(cp.qos, 1);
    assert.equal(cp.retain, false);
    assert.equal(cp.clientId, 'c1');
    assert.deepEqual({ ...cp.userProperties }, { a: '1' });
    assert.equal(cp.contentType, 'text/plain');

    // input publish with MQTT 5 properties
    const got = new Promise<{ topic: string; payload: Buffer; packet: any }>((resolve) => c.once('message', (topic, payload, packet) => resolve({ topic, payload, packet })));
    helper.getNode('b1').receive({ topic: 'in/t', payload: { x: 1 }, qos: 1, userProperties: { k: 'v' }, contentType: 'application/json' });
    const m = await got;
    assert.equal(m.topic, 'in/t');
    assert.equal(m.payload.toString(), '{"x":1}');
    assert.deepEqual({ ...m.packet.properties.userProperties }, { k: 'v' });
    assert.equal(m.packet.properties.contentType, 'application/json');
    assert.equal(copies.length, 1, 'only copy/# is copied');

    // queries
    const n = helper.getNode('b1');
    n.receive({ action: 'stats', topic: 'q' });
    const stats = await waitMsg(events, (e) => e.action === 'stats', 'stats reply');
    assert.equal(stats.payload.clientsConnected, 1);
    n.receive({ action: 'clients' });
    const cl = await waitMsg(events, (e) => e.action === 'clients', 'clients reply');
    assert.deepEqual(cl.payload.map((x: any) => x.clientId), ['c1']);
    n.receive({ action: 'subscriptions' });
    const subs = await waitMsg(events, (e) => e.action === 'subscriptions', 'subscriptions reply');
    assert.deepEqual(subs.payload.map((x: any) => [x.clientId, x.topicFilter, x.qos]), [['c1', 'in/#', 1]]);

    // admin disconnect: MQTT 5 DISCONNECT with 0x98, then a disconnected event
    const disc = new Promise<number>((resolve) => c.once('disconnect', (p: any) => resolve(p.reasonCode)));
    n.receive({ action: 'disconnect', clientId: 'c1' });
    assert.equal(await disc, 0x98);
    const rep = await waitMsg(events, (e) => e.action === 'disconnect', 'disconnect reply');
    assert.deepEqual(rep.payload, { clientId: 'c1', disconnected: true });
    const dis = await waitMsg(events, (e) => e.topic === 'disconnected', 'disconnected event');
    assert.equal(dis.payload.clientId, 'c1');
  });

  it('bad input and bad config: node.error + red status, never a crash', async function () {
    const port = await freePort();
    await helper.load([brokerNode], placed([
      ...brokerFlow('b1', { tcpPort: port }),
      { id: 'bad', z: 'f1', type: 'mqtt5-broker', tcpPort: 'abc', wires: [[], []] },
      { id: 'catch', z: 'f1', type: 'catch', scope: ['b1'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'f1', type: 'helper' },
    ]));
    const caught = collect('caught');
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
    assert.equal(lastStatus('bad').fill, 'red');
    assert.match(lastStatus('bad').text ?? '', /TCP port must be an integer/);
    assert.ok(helper.log().args.some((a: any[]) => /TCP port must be an integer/.test(JSON.stringify(a))), 'config error logged');

    const n = helper.getNode('b1');
    n.receive({ topic: 'a/#', payload: 'x' });
    n.receive({ topic: 'ok', payload: 'x', qos: 7 });
    n.receive({ action: 'explode' });
    n.receive({ action: 'disconnect' });
    await waitFor(() => caught.length >= 4, 5000, 'four caught errors');
    const texts = caught.map((m) => String(m.error?.message));
    assert.match(texts[0]!, /wildcard/);
    assert.match(texts[1]!, /msg.qos must be 0, 1 or 2/);
    assert.match(texts[2]!, /unknown msg.action "explode"/);
    assert.match(texts[3]!, /needs the client id/);
    assert.equal(lastStatus('b1').fill, 'red');
    assert.match(lastStatus('b1').text ?? '', /needs the client id/);
    await waitFor(() => lastStatus('b1').fill === 'green', 8000, 'status back to the listeners after an input error');
    // still serving
    await connect(`mqtt://127.0.0.1:${port}`);
  });

  it('a durable store that cannot be opened: red status and node.error with the reason, no crash', async function () {
    const port = await freePort();
    // a plain file where the store directory should be created
    fs.writeFileSync(path.join(userDir, 'mqtt5-hub'), 'not a directory');
    try {
      await helper.load([brokerNode], brokerFlow('b1', { tcpPort: port, persistence: 'file' }));
      await waitFor(() => lastStatus('b1').fill === 'red', 10000, 'red status');
      assert.match(lastStatus('b1').text ?? '', /broker failed to start: .*(ENOTDIR|EEXIST|not a directory)/i);
      assert.equal(await portOpen(port), false, 'nothing half-started');
    } finally {
      fs.rmSync(path.join(userDir, 'mqtt5-hub'), { force: true });
    }
  });

  it('a port in use shows why in the status; the other listeners still run', async function () {
    const blocker = net.createServer();
    const busy = await freePort();
    await new Promise<void>((r) => blocker.listen(busy, '127.0.0.1', r));
    try {
      const wsPort = await freePort();
      await helper.load([brokerNode], brokerFlow('b1', { tcpPort: busy, wsEnabled: true, wsPort, wsHost: '127.0.0.1' }));
      await waitFor(() => /EADDRINUSE/.test(lastStatus('b1').text ?? ''), 15000, 'EADDRINUSE in status');
      assert.equal(lastStatus('b1').fill, 'red');
      assert.match(lastStatus('b1').text ?? '', new RegExp(`tcp:127.0.0.1:${busy} port in use`));
      await connect(`ws://127.0.0.1:${wsPort}/mqtt`);
    } finally {
      blocker.close();
    }
  });

  it('users and ACL rules are enforced (mqtt.js and mosquitto clients); passwords are credentials', async function () {
    const port = await freePort();
    const users = JSON.stringify([
      { username: 'alice', password: 'pw-a' },
      { username: 'bob', password: 'pw-b' },
    ]);
    const flow = brokerFlow('b1', {
      tcpPort: port,
      allowAnonymous: false,
      acl: [
        { user: '', topic: 'home/%u/#', access: 'readwrite' },
        { user: 'alice', topic: 'public/#', access: 'write' },
        { user: 'bob', topic: 'public/#', access: 'read' },
        { user: 'bob', topic: 'public/secret', access: 'deny' },
      ],
    });
    await helper.load([brokerNode], flow, { b1: { users } });
    const events = collect('events');
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
    assert.ok(!JSON.stringify(flow).includes('pw-a'), 'the flow holds no password');

    await assert.rejects(connect(`mqtt://127.0.0.1:${port}`, { clientId: 'anon' }), (e: any) => e.code === 0x87 || e.code === 0x86);
    await assert.rejects(connect(`mqtt://127.0.0.1:${port}`, { username: 'alice', password: 'wrong' }), (e: any) => e.code === 0x86);
    await waitFor(() => events.filter((m) => m.topic === 'authFailed').length >= 2, 5000, 'authFailed events');
    assert.equal(events.filter((m) => m.topic === 'authFailed')[1]!.payload.username, 'alice');

    const alice = await connect(`mqtt://127.0.0.1:${port}`, { username: 'alice', password: 'pw-a', clientId: 'alice-1' });
    const bob = await connect(`mqtt://127.0.0.1:${port}`, { username: 'bob', password: 'pw-b', clientId: 'bob-1' });
    await bob.subscribeAsync('public/#', { qos: 1 });
    await assert.rejects(bob.subscribeAsync('home/alice/#', { qos: 1 }), /Not authorized/);
    const bobGot: string[] = [];
    bob.on('message', (t, p) => bobGot.push(`${t}=${p.toString()}`));
    await alice.publishAsync('public/news', 'hi', { qos: 1 });
    await alice.publishAsync('public/secret', 'no', { qos: 1 });
    await waitFor(() => bobGot.includes('public/news=hi'), 5000, 'bob receives public/news');

    // bob may not write public/#: PUBACK 0x87 (MQTT 5)
    await assert.rejects(bob.publishAsync('public/x', 'nope', { qos: 1 }), (e: any) => e.code === 0x87);
    // %u: alice owns home/alice/#
    const aGot: string[] = [];
    alice.on('message', (t) => aGot.push(t));
    await alice.subscribeAsync('home/alice/#', { qos: 1 });
    await alice.publishAsync('home/alice/lamp', 'on', { qos: 1 });
    await waitFor(() => aGot.includes('home/alice/lamp'), 5000, 'alice receives her own topic');

    // mosquitto clients with the same users
    const sub = requireTool(this, 'mosquitto_sub', 'apt-get install mosquitto-clients');
    const pub = requireTool(this, 'mosquitto_pub', 'apt-get install mosquitto-clients');
    const out = run(sub, ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-u', 'bob', '-P', 'pw-b', '-t', 'public/#', '-C', '1', '-W', '10']);
    await waitFor(() => events.filter((m) => m.topic === 'subscribed' && m.payload.clientId !== 'bob-1' && m.payload.clientId !== 'alice-1').length > 0, 10000, 'mosquitto_sub subscribed');
    await run(pub, ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-u', 'alice', '-P', 'pw-a', '-t', 'public/m', '-m', 'from-mosquitto', '-q', '1']);
    assert.equal((await out).trim(), 'from-mosquitto');
    await assert.rejects(run(pub, ['-h', '127.0.0.1', '-p', String(port), '-u', 'alice', '-P', 'bad', '-t', 'public/m', '-m', 'x']));
    await delay(100);
    assert.ok(!bobGot.includes('public/secret=no'), 'deny rule carves public/secret out of bob\'s read access');
  });

  it('TLS and wss with a tls-config node, requiring client certificates (mqtt.js and mosquitto)', async function () {
    const openssl = requireTool(this, 'openssl', 'apt-get install openssl');
    const t = makeTlsFiles(openssl);
    try {
      const port = await freePort();
      const wssPort = await freePort();
      await helper.load([brokerNode, tlsNode], [
        ...brokerFlow('b1', {
          tcpEnabled: false,
          tlsEnabled: true,
          tlsPort: port,
          tlsHost: '127.0.0.1',
          tls: 'tls1',
          tlsRequireCert: true,
          wsEnabled: true,
          wsMode: 'port',
          wsPort: wssPort,
          wsHost: '127.0.0.1',
          wsTls: true,
        }),
        { id: 'tls1', z: 'f1', type: 'tls-config', cert: t.serverCert, key: t.serverKey, ca: t.ca, verifyservercert: false },
      ]);
      const events = collect('events');
      await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
      assert.match(lastStatus('b1').text ?? '', new RegExp(`tls:127.0.0.1:${port}`));
      const ca = fs.readFileSync(t.ca);
      const c = await connect(`mqtts://127.0.0.1:${port}`, { ca, key: fs.readFileSync(t.clientKey), cert: fs.readFileSync(t.clientCert), rejectUnauthorized: true, clientId: 'tls-dev' });
      await waitMsg(events, (m) => m.topic === 'connected' && m.payload.clientId === 'tls-dev', 'connected event');
      await assert.rejects(connect(`mqtts://127.0.0.1:${port}`, { ca, rejectUnauthorized: true, connectTimeout: 5000 }));
      // wss:// on the WebSocket port, same TLS configuration and client-certificate rule
      assert.match(lastStatus('b1').text ?? '', new RegExp(`wss:127.0.0.1:${wssPort}/mqtt`));
      const w = await connect(`wss://127.0.0.1:${wssPort}/mqtt`, { ca, key: fs.readFileSync(t.clientKey), cert: fs.readFileSync(t.clientCert), rejectUnauthorized: true });
      assert.ok(w.connected);
      await assert.rejects(connect(`wss://127.0.0.1:${wssPort}/mqtt`, { ca, rejectUnauthorized: true, connectTimeout: 5000 }));

      const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
      await c.subscribeAsync('tls/#', { qos: 1 });
      const pub = requireTool(this, 'mosquitto_pub', 'apt-get install mosquitto-clients');
      await run(pub, ['-h', '127.0.0.1', '-p', String(port), '--cafile', t.ca, '--cert', t.clientCert, '--key', t.clientKey, '-t', 'tls/a', '-m', 'over-tls', '-q', '1']);
      assert.equal(await got, 'over-tls');
    } finally {
      fs.rmSync(t.dir, { recursive: true, force: true });
    }
  });

  it('WebSocket on its own port and on Node-RED\'s HTTP server under httpNodeRoot, editor websocket untouched', async function () {
    await helper.startServer();
    try {
      const wsPort = await freePort();
      await helper.load([brokerNode], placed([
        ...brokerFlow('b1', { tcpEnabled: false, wsEnabled: true, wsMode: 'port', wsPort, wsHost: '127.0.0.1' }),
        { id: 'b2', z: 'f1', type: 'mqtt5-broker', tcpEnabled: false, wsEnabled: true, wsMode: 'path', wsPath: '/mqtt', sysInterval: 0, wires: [[], []] },
      ]));
      await waitFor(() => lastStatus('b1').fill === 'green' && lastStatus('b2').fill === 'green', 10000, 'green status');
      assert.match(lastStatus('b2').text ?? '', /ws:\/red\/mqtt/);
      const a = await connect(`ws://127.0.0.1:${wsPort}/mqtt`);
      const b = await connect(`${helper.url().replace('http', 'ws')}/red/mqtt`);
      const got = new Promise<string>((resolve) => b.once('message', (_t, p) => resolve(p.toString())));
      await b.subscribeAsync('w', { qos: 0 });
      helper.getNode('b2').receive({ topic: 'w', payload: 'via-path' });
      assert.equal(await got, 'via-path');
      assert.ok(a.connected);
      // Node-RED's own editor websocket still upgrades
      const comms = new WebSocket(`${helper.url().replace('http', 'ws')}/comms`);
      await new Promise<void>((resolve, reject) => {
        comms.once('open', () => resolve());
        comms.once('error', reject);
      });
      comms.close();
      // a path nobody serves is not hijacked (no 101)
      const other = new WebSocket(`${helper.url().replace('http', 'ws')}/red/other`);
      const outcome = await new Promise<string>((resolve) => {
        other.once('open', () => resolve('open'));
        other.once('error', () => resolve('error'));
        setTimeout(() => resolve('timeout'), 1000).unref();
      });
      other.terminate();
      assert.notEqual(outcome, 'open');
    } finally {
      await helper.unload();
      await handover.settled();
      await helper.stopServer();
    }
  });

  it('deploys: unchanged config keeps clients; security changes apply live; listener/core changes restart cleanly', async function () {
    const port = await freePort();
    const flow = brokerFlow('b1', { tcpPort: port, copyTopic: 'copy/#' });
    await helper.load([brokerNode], flow);
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
    const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'keeper' });
    const registered = registry.getBroker('b1');
    assert.ok(registered, 'broker registered for mqtt5-client nodes');
    let closes = 0;
    c.on('close', () => closes++);
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    await c.subscribeAsync('k/#', { qos: 1 });

    // 1. full deploy, same config: the same broker is adopted
    await helper.setFlows(flow, 'full');
    await c.publishAsync('k/1', 'during-1', { qos: 1 });
    helper.getNode('b1').receive({ topic: 'k/2', payload: 'after-1', qos: 1 });
    await waitFor(() => got.includes('after-1') && got.includes('during-1'), 5000, 'messages after full deploy');
    assert.equal(closes, 0, 'client kept across a full deploy');
    assert.deepEqual(handover.parkedIds(), []);
    assert.equal(registry.getBroker('b1'), registered, 'the same broker, handed over');
    const copies = collect('copies');
    await c.publishAsync('copy/a', 'x', { qos: 1 });
    await waitFor(() => copies.length === 1, 5000, 'new instance receives copies');

    // 2. security change: users added, anonymous still allowed -> no restart
    await helper.setFlows(flow, 'full', { b1: { users: JSON.stringify([{ username: 'u', password: 'p' }]) } });
    const events = collect('events');
    await connect(`mqtt://127.0.0.1:${port}`, { username: 'u', password: 'p', clientId: 'new-user' });
    await waitFor(() => events.some((e) => e.topic === 'connected' && e.payload.clientId === 'new-user'), 5000, 'event from adopted broker');
    assert.equal(closes, 0, 'client kept across a security change');

    // 2b. a "modified nodes" deploy changing only the ACL: applied in place, client kept
    await helper.setFlows(brokerFlow('b1', { tcpPort: port, copyTopic: 'copy/#', acl: [{ user: '*', topic: 'k/#', access: 'readwrite' }] }), 'nodes', {
      b1: { users: JSON.stringify([{ username: 'u', password: 'p' }]) },
    });
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green after a nodes deploy');
    await assert.rejects(c.subscribeAsync('other/#', { qos: 1 }), /Not authorized/);
    helper.getNode('b1').receive({ topic: 'k/3', payload: 'after-acl', qos: 1 });
    await waitFor(() => got.includes('after-acl'), 5000, 'message after the ACL change');
    assert.equal(closes, 0, 'client kept across a modified-nodes deploy');

    // 3. listener change: old port closed (clients told 0x8B), new port open
    const port2 = await freePort();
    const reason = new Promise<number>((resolve) => c.once('disconnect', (p: any) => resolve(p.reasonCode)));
    const flow2 = brokerFlow('b1', { tcpPort: port2, copyTopic: 'copy/#', allowAnonymous: true });
    await helper.setFlows(flow2, 'full');
    assert.equal(await reason, 0x8b);
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green after listener change');
    assert.match(lastStatus('b1').text ?? '', new RegExp(`tcp:127.0.0.1:${port2} \\|`));
    await waitFor(async () => !(await portOpen(port)), 5000, 'old port closed');
    await connect(`mqtt://127.0.0.1:${port2}`, { clientId: 'moved' });

    // 4. core change (limits) on the same port: restart without EADDRINUSE
    await helper.setFlows(brokerFlow('b1', { tcpPort: port2, maxQueued: 50, allowAnonymous: true }), 'full');
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green after restart');
    const again = await connect(`mqtt://127.0.0.1:${port2}`, { clientId: 'again' });
    assert.ok(again.connected);
    assert.ok(!/EADDRINUSE/.test(lastStatus('b1').text ?? ''));
  });

  it('removing the node closes its broker and frees the port', async function () {
    const port = await freePort();
    await helper.load([brokerNode], brokerFlow('b1', { tcpPort: port }));
    await waitFor(() => lastStatus('b1').fill === 'green', 10000, 'green status');
    const c = await connect(`mqtt://127.0.0.1:${port}`);
    const reason = new Promise<number>((resolve) => c.once('disconnect', (p: any) => resolve(p.reasonCode)));
    await helper.setFlows(placed([{ id: 'f1', type: 'tab', label: 'test' }, { id: 'events', z: 'f1', type: 'helper' }]), 'full');
    assert.equal(await reason, 0x8b);
    await handover.settled();
    assert.equal(await portOpen(port), false);
    assert.equal(registry.getBroker('b1'), undefined, 'unregistered');
  });
});
