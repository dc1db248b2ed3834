import assert from 'node:assert/strict';
import { RawClient, sleep, startBroker, type TestBroker } from './helpers';
import type { InProcessMessage } from '../../src/broker';
import { waitFor } from '../helpers/env';

describe('broker core: will messages', function () {
  let broker: TestBroker;
  const got: InProcessMessage[] = [];
  before(async () => {
    ({ broker } = await startBroker());
    const watcher = await broker.connectInProcess({ clientId: 'will-watcher' });
    watcher.on('message', (m) => got.push(m));
    await watcher.subscribe([{ topicFilter: 'will/#', qos: 1 }]);
  });
  after(async () => {
    await broker.close();
  });
  beforeEach(() => {
    got.length = 0;
  });

  const will = (topic: string, extra: any = {}): any => ({
    topic,
    payload: Buffer.from('gone'),
    qos: 1,
    retain: false,
    properties: { contentType: 'text/plain', userProperties: { k: 'v' }, ...extra },
  });

  it('is published with its properties when the network connection is lost', async () => {
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'w-lost', will: will('will/lost') });
    c.end();
    await waitFor(() => got.length === 1, 5000, 'will');
    assert.equal(got[0]!.topic, 'will/lost');
    assert.equal(got[0]!.properties.contentType, 'text/plain');
    assert.deepEqual({ ...got[0]!.properties.userProperties }, { k: 'v' });
  });

  it('is not published after DISCONNECT 0x00, but is after DISCONNECT 0x04', async () => {
    const a = new RawClient(broker, 5);
    await a.connect({ clientId: 'w-normal', will: will('will/normal') });
    a.send({ cmd: 'disconnect', reasonCode: 0 });
    await a.closedPromise;
    const b = new RawClient(broker, 5);
    await b.connect({ clientId: 'w-04', will: will('will/04') });
    b.send({ cmd: 'disconnect', reasonCode: 4 });
    await b.closedPromise;
    await waitFor(() => got.length > 0, 5000, 'will');
    await sleep(100);
    assert.deepEqual(got.map((m) => m.topic), ['will/04']);
  });

  it('is published on keep-alive timeout', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'w-ka', keepalive: 1, will: will('will/ka') });
    await c.closedPromise;
    await waitFor(() => got.length > 0, 5000, 'will');
    assert.deepEqual(got.map((m) => m.topic), ['will/ka']);
  });

  it('Will Delay Interval: delayed, and cancelled when the client reconnects in time', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'w-delay', properties: { sessionExpiryInterval: 60 }, will: will('will/delay', { willDelayInterval: 1 }) });
    const t0 = Date.now();
    c.end();
    await sleep(300);
    // (only meaningful when this process was not stalled for most of the delay)
    if (Date.now() - t0 < 800) assert.equal(got.length, 0, 'not yet');
    await waitFor(() => got.length > 0, 6000, 'delayed will');
    assert.deepEqual(got.map((m) => m.topic), ['will/delay']);
    got.length = 0;
    const d = new RawClient(broker, 5);
    await d.connect({ clientId: 'w-delay2', properties: { sessionExpiryInterval: 60 }, will: will('will/delay2', { willDelayInterval: 1 }) });
    d.end();
    await sleep(200);
    const e = new RawClient(broker, 5);
    await e.connect({ clientId: 'w-delay2', clean: false, properties: { sessionExpiryInterval: 60 } });
    await sleep(1200);
    assert.equal(got.length, 0, 'cancelled by the reconnect');
    e.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  });

  it('a session ending before the will delay sends the will then', async function () {
    this.timeout(10000);
    const c = new RawClient(broker, 5);
    await c.connect({ clientId: 'w-sess', properties: { sessionExpiryInterval: 0 }, will: will('will/sess', { willDelayInterval: 30 }) });
    c.end();
    await waitFor(() => got.length > 0, 5000, 'will');
    assert.deepEqual(got.map((m) => m.topic), ['will/sess']);
  });

  it('MQTT 3.1.1 will on network loss, retained when asked', async () => {
    const c = new RawClient(broker, 4);
    await c.connect({ clientId: 'w-v4', will: { topic: 'will/v4', payload: Buffer.from('bye'), qos: 0, retain: true } });
    c.end();
    await waitFor(() => got.length > 0, 5000, 'will');
    assert.deepEqual(got.map((m) => m.topic), ['will/v4']);
    const late = await broker.connectInProcess({ clientId: 'late' });
    const r: InProcessMessage[] = [];
    late.on('message', (m) => r.push(m));
    await late.subscribe([{ topicFilter: 'will/v4', qos: 0 }]);
    assert.equal(r.length, 1);
    assert.equal(r[0]!.retain, true);
    await late.end();
  });
});
