import assert from 'node:assert/strict';
import { connect, connectWithAck, RawClient, startBroker, type TestBroker } from './helpers';
import { waitFor } from '../helpers/env';
import { createBroker, MemoryStore } from '../../src/broker';

describe('broker core: sessions', function () {
  let broker: TestBroker;
  let url: string;
  before(async () => {
    ({ broker, url } = await startBroker());
  });
  after(async () => {
    await broker.close();
  });

  it('MQTT 5 persistent session: queued QoS 1 messages are delivered on resume (sessionPresent)', async () => {
    const a = await connect(url, { clientId: 'persist5', clean: false, properties: { sessionExpiryInterval: 60 } });
    await a.subscribeAsync('sess/q', { qos: 1 });
    await a.endAsync();
    await waitFor(() => broker.clients().every((c) => c.clientId !== 'persist5'), 2000, 'offline');
    for (let i = 0; i < 3; i++) await broker.publish({ topic: 'sess/q', payload: `m${i}`, qos: 1 });
    await broker.publish({ topic: 'sess/q', payload: 'qos0-not-queued', qos: 0 });
    const { client: b, connack, got } = await connectWithAck(url, { clientId: 'persist5', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.sessionPresent, true);
    await waitFor(() => got.length === 3, 5000, 'queued messages');
    assert.deepEqual(got.map((m) => m.payload), ['m0', 'm1', 'm2']);
    await b.endAsync();
    const c = await connect(url, { clientId: 'persist5', clean: true });
    await c.endAsync();
  });

  it('resends unacknowledged QoS 1 with DUP=1 on resume, and PUBREL for QoS 2 after PUBREC', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'dup1', clean: false, properties: { sessionExpiryInterval: 60 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sess/dup/#', qos: 2 }] });
    await c.next('suback');
    await broker.publish({ topic: 'sess/dup/1', payload: 'one', qos: 1 });
    await broker.publish({ topic: 'sess/dup/2', payload: 'two', qos: 2 });
    const p1 = await c.next('publish');
    const p2 = await c.next('publish');
    assert.equal(p1.dup, false);
    c.send({ cmd: 'pubrec', messageId: p2.messageId });
    await c.next('pubrel');
    c.end();
    await waitFor(() => broker.clients().every((x) => x.clientId !== 'dup1'), 2000, 'offline');
    const d = new RawClient(broker, 5);
    const ack = await d.connect({ clientId: 'dup1', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(ack.sessionPresent, true);
    const again = await d.next('publish');
    assert.equal(again.dup, true);
    assert.equal(again.messageId, p1.messageId);
    assert.equal(again.payload.toString(), 'one');
    const rel = await d.next('pubrel');
    assert.equal(rel.messageId, p2.messageId);
    d.send({ cmd: 'puback', messageId: again.messageId });
    d.send({ cmd: 'pubcomp', messageId: rel.messageId });
    d.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await d.closedPromise;
    await waitFor(() => !broker.stats().clientsTotal || broker.clients().every((x) => x.clientId !== 'dup1'), 2000, 'gone');
  });

  it('a session with expiry 1 s is gone after it expires', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'exp1', clean: false, properties: { sessionExpiryInterval: 1 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sess/exp', qos: 1 }] });
    await c.next('suback');
    const total = broker.stats().clientsTotal;
    c.end();
    // the session is gone once its expiry timer has fired
    await waitFor(() => broker.stats().clientsTotal === total - 1, 6000, 'session expiry');
    const d = new RawClient(broker, 5);
    const ack = await d.connect({ clientId: 'exp1', clean: false, properties: { sessionExpiryInterval: 1 } });
    assert.equal(ack.sessionPresent, false);
    d.end();
  });

  it('DISCONNECT may change the expiry, but not from 0 [MQTT-3.14.2-2] (0x82)', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'exp0' });
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    assert.equal((await c.next('disconnect')).reasonCode, 0x82);
    await c.closedPromise;
    const d = new RawClient(broker, 5);
    await d.connect({ clientId: 'exp60', clean: false, properties: { sessionExpiryInterval: 60 } });
    d.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await d.closedPromise;
    const e = new RawClient(broker, 5);
    assert.equal((await e.connect({ clientId: 'exp60', clean: false })).sessionPresent, false, 'expiry set to 0 at DISCONNECT ended the session');
    e.end();
  });

  it('a second connection with the same client id takes the session over (DISCONNECT 0x8E)', async () => {
    const a = new RawClient(broker, 5);
    await a.connect({ clientId: 'dupe-id', clean: false, properties: { sessionExpiryInterval: 60 } });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sess/take', qos: 1 }] });
    await a.next('suback');
    const b = new RawClient(broker, 5);
    const ack = await b.connect({ clientId: 'dupe-id', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(ack.sessionPresent, true);
    assert.equal((await a.next('disconnect')).reasonCode, 0x8e);
    await a.closedPromise;
    await broker.publish({ topic: 'sess/take', payload: 'to-b', qos: 1 });
    assert.equal((await b.next('publish')).payload.toString(), 'to-b');
    b.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await b.closedPromise;
  });

  it('MQTT 3.1.1 clean session 0 keeps the session; clean session 1 discards it', async () => {
    const a = await connect(url, { protocolVersion: 4, clientId: 'v4persist', clean: false });
    await a.subscribeAsync('sess/v4', { qos: 1 });
    await a.endAsync();
    await broker.publish({ topic: 'sess/v4', payload: 'while-away', qos: 1 });
    const { client: b, connack, got } = await connectWithAck(url, { protocolVersion: 4, clientId: 'v4persist', clean: false });
    assert.equal(connack.sessionPresent, true);
    await waitFor(() => got.length === 1, 5000, 'queued');
    await b.endAsync();
    const c = await connect(url, { protocolVersion: 4, clientId: 'v4persist', clean: true });
    await c.endAsync();
    const d = new RawClient(broker, 4);
    assert.equal((await d.connect({ clientId: 'v4persist', clean: false })).sessionPresent, false);
    d.send({ cmd: 'disconnect' });
  });

  it('restores sessions, subscriptions, queued messages and retained messages from the store on restart', async () => {
    const store = new MemoryStore();
    const b1 = createBroker({ sysInterval: 0, store });
    await b1.listen();
    const c = new RawClient(b1, 5);
    await c.connect({ clientId: 'restart', clean: false, properties: { sessionExpiryInterval: 300 } });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sess/restart/#', qos: 1 }] });
    await c.next('suback');
    await b1.publish({ topic: 'sess/restart/a', payload: 'inflight', qos: 1 });
    assert.equal((await c.next('publish')).payload.toString(), 'inflight');
    c.end();
    await waitFor(() => b1.clients().length === 0, 2000, 'offline');
    await b1.publish({ topic: 'sess/restart/b', payload: 'queued', qos: 1 });
    await b1.publish({ topic: 'sess/restart/r', payload: 'kept', qos: 0, retain: true });
    await b1.close();
    const b2 = createBroker({ sysInterval: 0, store });
    await b2.listen();
    const d = new RawClient(b2, 5);
    const ack = await d.connect({ clientId: 'restart', clean: false, properties: { sessionExpiryInterval: 300 } });
    assert.equal(ack.sessionPresent, true);
    const first = await d.next('publish');
    assert.equal(first.payload.toString(), 'inflight');
    assert.equal(first.dup, true);
    assert.equal((await d.next('publish')).payload.toString(), 'queued');
    assert.equal(b2.stats().retainedMessages, 1);
    d.end();
    await b2.close();
  });

  it('a persistent session\'s will survives a broker restart and is published when due', async function () {
    this.timeout(10000);
    const store = new MemoryStore();
    const b1 = createBroker({ sysInterval: 0, store });
    await b1.listen();
    const c = new RawClient(b1, 5);
    await c.connect({
      clientId: 'will-restart',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      will: { topic: 'sess/will/restart', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 1 } },
    });
    await b1.close();
    const b2 = createBroker({ sysInterval: 0, store });
    await b2.listen();
    const watcher = await b2.connectInProcess({ clientId: 'will-watch' });
    const got: string[] = [];
    watcher.on('message', (m) => got.push(m.payload.toString()));
    await watcher.subscribe([{ topicFilter: 'sess/will/#', qos: 1 }]);
    await waitFor(() => got.length === 1, 5000, 'will after restart');
    assert.deepEqual(got, ['gone']);
    await b2.close();
  });

  it('PUBACK waits until the message is stored for a persistent session (acknowledged = durable)', async () => {
    const store = new MemoryStore();
    const release: Array<() => void> = [];
    const enqueue = store.enqueue.bind(store);
    store.enqueue = (clientId, msgs) => new Promise<void>((resolve) => release.push(() => void enqueue(clientId, msgs).then(resolve)));
    const b = createBroker({ sysInterval: 0, store });
    const sub = await b.connectInProcess({ clientId: 'durable-sub', cleanStart: false, sessionExpiryInterval: 60 });
    await sub.subscribe([{ topicFilter: 'sess/durable', qos: 1 }]);
    await sub.end();
    const c = new RawClient(b, 5);
    await c.connect({ clientId: 'durable-pub' });
    c.send({ cmd: 'publish', topic: 'sess/durable', payload: 'x', qos: 1, messageId: 1 });
    c.send({ cmd: 'publish', topic: 'sess/other', payload: 'y', qos: 1, messageId: 2 });
    assert.equal(await c.none('puback', 150), true, 'no PUBACK before the store has it');
    assert.equal(release.length, 1);
    release[0]!();
    assert.equal((await c.next('puback')).messageId, 1);
    assert.equal((await c.next('puback')).messageId, 2, 'acknowledgements stay in order');
    c.end();
    await b.close();
  });

  it('on shutdown the will of a non-persistent session is published (queued for a persistent subscriber)', async () => {
    const store = new MemoryStore();
    const b1 = createBroker({ sysInterval: 0, store });
    await b1.listen();
    const watcher = await b1.connectInProcess({ clientId: 'shutdown-watch', cleanStart: false, sessionExpiryInterval: 300 });
    await watcher.subscribe([{ topicFilter: 'sess/shutdown/#', qos: 1 }]);
    await watcher.end();
    const c = new RawClient(b1, 5);
    await c.connect({ clientId: 'shutdown-will', will: { topic: 'sess/shutdown/will', payload: Buffer.from('bye'), qos: 1, retain: false } });
    await b1.close();
    const b2 = createBroker({ sysInterval: 0, store });
    await b2.listen();
    const again = await b2.connectInProcess({ clientId: 'shutdown-watch', cleanStart: false, sessionExpiryInterval: 300 });
    const got: string[] = [];
    again.on('message', (m) => got.push(`${m.topic}=${m.payload.toString()}`));
    await waitFor(() => got.length === 1, 3000, 'will queued before the shutdown');
    assert.deepEqual(got, ['sess/shutdown/will=bye']);
    await b2.close();
  });
});
