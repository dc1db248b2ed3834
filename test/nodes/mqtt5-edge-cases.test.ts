/* eslint-disable @typescript-eslint/no-require-imports -- the BUILT mqtt5-broker node is CommonJS */
/**
 * Edge cases of the mqtt5 nodes found in review: msg values of odd types (BigInt, huge strings) give
 * short precise errors; a message made oversize by its properties is refused before it is sent
 * (not a disconnect / reconnect loop); nodes without a usable client or with an invalid setting
 * report every input to Catch; closing a connection leaves no timer behind.
 */
import { strict as assert } from 'node:assert';
import * as asyncHooks from 'node:async_hooks';
import * as path from 'node:path';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { getBroker, registerBroker, unregisterBroker } from '../../src/nodes/shared/broker-registry';
import { createController } from '../../src/nodes/shared/client-config';
import { ExternalConnection } from '../../src/nodes/shared/external-connection';
import { describeValue } from '../../src/nodes/shared/messages';
import { buildPublish } from '../../src/nodes/shared/publish-builder';
import { validatePublishTopic } from '../../src/nodes/shared/topics';
import { delay, freePort, ROOT, waitFor } from '../helpers/env';
import { collect, helper, inject, load, NODES, observers, TAB, useHelper, waitConnected, waitStatus } from './mqtt5-harness';

const evaluate = (): unknown => undefined;

describe('mqtt5 nodes: edge cases', function () {
  this.timeout(30000);
  let broker: Broker;
  let url: string;
  const BROKER_NODE = `edge-broker-${process.pid}`;

  useHelper();
  before(async function () {
    const port = await freePort();
    broker = createBroker({ sysInterval: 0, limits: { maxPacketSize: 4096 }, listeners: [{ type: 'tcp', port, host: '127.0.0.1' }] });
    await broker.listen();
    registerBroker(BROKER_NODE, broker);
    url = `mqtt://127.0.0.1:${port}`;
  });
  after(async function () {
    unregisterBroker(BROKER_NODE, broker);
    await broker?.close({ timeoutMs: 2000 });
  });

  it('odd msg values (BigInt, huge strings, circular objects) give short precise errors, never a TypeError', function () {
    assert.equal(describeValue(5n), '5n');
    assert.equal(describeValue('a'), '"a"');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(describeValue(circular), '[object Object]');
    assert.match(describeValue('x'.repeat(100000)), /^"x{79}… \(100002 characters\)$/);
    const err = (m: Record<string, unknown>): Error => {
      try {
        buildPublish(evaluate, {}, {}, m);
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    };
    const big = err({ topic: 'a', payload: 'x', qos: 5n });
    assert.equal(big.name, 'MessageError');
    assert.equal(big.message, 'msg.qos must be 0, 1 or 2 (got 5n)');
    assert.equal(err({ topic: 'a', payload: 'x', retain: 1n }).message, 'msg.retain must be true or false (got 1n)');
    assert.match(err({ topic: 'a', payload: 'x', messageExpiryInterval: 10n }).message, /got 10n/);
    const huge = err({ topic: 'a', payload: 'x', qos: 'q'.repeat(1e6) });
    assert.ok(huge.message.length < 200, `short message, got ${huge.message.length} characters`);
    assert.ok(validatePublishTopic(`${'t'.repeat(60000)}/#`)!.length < 200);
    assert.throws(
      () => createController({ broker: 'mqtt://h', birthTopic: 'b', birthUserProps: [{ key: 'k', value: 'v'.repeat(70000) }] }, {}),
      /^Error: birth message: user property "k": value is longer than 65535 bytes$/,
    );
  });

  it('a broker URL mqtt.js would throw on (port > 65535, broken IPv6) is a config error; a throwing connect is a status, not an exception', async function () {
    assert.throws(() => createController({ broker: 'mqtt://127.0.0.1:99999' }, {}), /broker URL "mqtt:\/\/127.0.0.1:99999" is not valid/);
    assert.throws(() => createController({ broker: 'mqtt://[::1' }, {}), /is not valid/);
    const conn = new ExternalConnection({
      url: 'mqtt://127.0.0.1:99999', topicAliases: false, protocolVersion: 5, clientId: 'edge-bad-port', cleanStart: true,
      sessionExpiryInterval: 0, keepAlive: 60, reconnectMinMs: 50, reconnectMaxMs: 100, connectTimeoutMs: 1000,
    });
    const reasons: string[] = [];
    conn.on('disconnect', (i) => reasons.push(i.reason));
    assert.doesNotThrow(() => conn.start());
    await waitFor(() => reasons.length >= 2, 5000, 'two failed attempts (the retry from a timer must not throw either)');
    await conn.stop();
    assert.match(reasons[0]!, /Port should be >= 0 and < 65536/);
  });

  for (const mode of ['tcp', 'inprocess'] as const) {
    it(`a message made too large by its properties is refused with 0x95 before sending (${mode}); the connection stays up`, async function () {
      const client = mode === 'tcp' ? { brokerType: 'external', broker: url } : { brokerType: 'embedded', embeddedBroker: BROKER_NODE };
      await load([
        TAB,
        { id: 'c1', type: 'mqtt5-client', reconnectPeriod: 200, ...client },
        { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'edge/big', qos: '1', retain: 'false', wires: [] },
        ...observers(),
      ]);
      const caught = collect('caught');
      const statuses = collect('statuses');
      await waitConnected('c1');
      const from = statuses.length;
      inject('out', { payload: 'small', userProperties: { note: 'n'.repeat(5000) } });
      inject('out', { payload: 'small', contentType: 'c'.repeat(5000) });
      await waitFor(() => caught.length === 2, 10000, 'both refusals caught');
      for (const c of caught) assert.match(c.error.message, /larger than the broker's Maximum Packet Size of 4096 bytes \(0x95 packet too large\)/);
      await delay(300);
      assert.ok(!statuses.slice(from).some((s) => /disconnected/.test(s.status?.text ?? '')), 'never disconnected');
      assert.equal(helper.getNode('c1').controller.connected, true);
    });
  }

  it('properties longer than MQTT can encode (64 KiB) are refused before mqtt.js sees them; later QoS 1 messages still complete', async function () {
    const big = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port: 0, host: '127.0.0.1' }] }); // 1 MiB packets
    const [info] = await big.listen();
    try {
      await load([
        TAB,
        { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: `mqtt://127.0.0.1:${info!.port}` },
        { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'edge/long', qos: '1', retain: 'false', wires: [] },
        { id: 'done', type: 'complete', z: 'f1', scope: ['out'], uncaught: false, wires: [['completed']] },
        { id: 'completed', type: 'helper', z: 'f1' },
        ...observers(),
      ]);
      const caught = collect('caught');
      const completed = collect('completed');
      await waitConnected('c1');
      inject('out', { payload: 'a', correlationData: Buffer.alloc(70000) });
      inject('out', { payload: 'b', userProperties: { k: 'v'.repeat(70000) } });
      inject('out', { payload: 'c', contentType: 'c'.repeat(70000) });
      await waitFor(() => caught.length === 3, 5000, 'three refusals caught');
      const texts = caught.map((c) => String(c.error.message));
      assert.ok(texts.some((t) => /correlation data is 70000 bytes, more than the 65535 MQTT allows$/.test(t)), texts.join(' | '));
      assert.ok(texts.some((t) => /user property "k": value is longer than 65535 bytes$/.test(t)), texts.join(' | '));
      assert.ok(texts.some((t) => /content type is longer than 65535 bytes$/.test(t)), texts.join(' | '));
      inject('out', { payload: 'after' });
      inject('out', { payload: 'after, too' });
      await waitFor(() => completed.length === 2, 5000, 'later QoS 1 messages acknowledged');
    } finally {
      await helper.unload();
      await big.close({ timeoutMs: 2000 });
    }
  });

  it('in-process: buffers the flow changes later do not change what the embedded broker keeps (retained message)', async function () {
    let peeks = 0;
    const retained = async (topic: string): Promise<string> => {
      const c = await broker.connectInProcess({ clientId: `peek-${process.pid}-${++peeks}` });
      const got = new Promise<string>((r) => c.on('message', (m) => r(m.payload.toString())));
      await c.subscribe([{ topicFilter: topic, qos: 0 }]);
      const s = await got;
      await c.end();
      return s;
    };
    await load([
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'embedded', embeddedBroker: BROKER_NODE },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'edge/ret', qos: '1', retain: 'true', wires: [] },
      { id: 'in', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'edge/ret', qos: '1', datatype: 'buffer', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f1' },
      { id: 'done', type: 'complete', z: 'f1', scope: ['out'], uncaught: false, wires: [['completed']] },
      { id: 'completed', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const got = collect('h');
    const completed = collect('completed');
    await waitConnected('c1');
    const sent = Buffer.from('original');
    inject('out', { payload: sent });
    await waitFor(() => completed.length === 1 && got.length === 1, 5000, 'published and received');
    sent.fill('x'); // the flow reuses its buffer after done()
    assert.equal(await retained('edge/ret'), 'original');
    got[0].payload.fill('y'); // a downstream node changes the received buffer in place
    assert.equal(await retained('edge/ret'), 'original');
    inject('out', { payload: '' }); // clear the retained message
    await waitFor(() => completed.length === 2, 5000, 'cleared');
  });

  it('mqtt5-broker node: its input buffer and its copy output are not the broker\'s own (retained message unchanged)', async function () {
    const port = await freePort();
    await helper.load(
      [...NODES, require(path.join(ROOT, 'nodes', 'mqtt5-broker.js'))],
      [
        TAB,
        { id: 'bn', z: 'f1', type: 'mqtt5-broker', sysInterval: 0, tcpPort: port, tcpHost: '127.0.0.1', copyTopic: 'cp/#', copyPayload: 'buffer', wires: [[], ['copies']] },
        { id: 'copies', z: 'f1', type: 'helper' },
      ],
    );
    const copies = collect('copies');
    await waitFor(() => getBroker('bn'), 10000, 'broker running');
    const sent = Buffer.from('original');
    helper.getNode('bn').receive({ topic: 'cp/r', payload: sent, retain: true, correlationData: Buffer.from('cd') });
    await waitFor(() => copies.length === 1, 5000, 'copy of the publish');
    sent.fill('x');
    copies[0].payload.fill('y');
    copies[0].correlationData.fill('z');
    const peek = await getBroker('bn')!.connectInProcess({ clientId: 'peek-bn' });
    const got = new Promise<{ payload: string; cd: string }>((r) =>
      peek.on('message', (m) => r({ payload: m.payload.toString(), cd: String(m.properties?.correlationData) })),
    );
    await peek.subscribe([{ topicFilter: 'cp/r', qos: 0 }]);
    assert.deepEqual(await got, { payload: 'original', cd: 'cd' });
    await peek.end();
  });

  it('No Local on a shared subscription is refused by the node, not sent (the broker would drop the shared connection)', async function () {
    await load([
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: url, reconnectPeriod: 200 },
      { id: 'bad', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'edge/nl', shareGroup: 'g', nl: true, wires: [[]] },
      { id: 'dyn', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: '', inputs: 1, wires: [[]] },
      { id: 'ok', type: 'mqtt5-in', z: 'f1', client: 'c1', topic: 'edge/ok', qos: '1', wires: [['h']] },
      { id: 'out', type: 'mqtt5-out', z: 'f1', client: 'c1', topic: 'edge/ok', qos: '1', retain: 'false', wires: [] },
      { id: 'h', type: 'helper', z: 'f1' },
      ...observers(),
    ]);
    const caught = collect('caught');
    const statuses = collect('statuses');
    const got = collect('h');
    await waitConnected('c1');
    inject('dyn', { action: 'subscribe', topic: { topic: 'edge/nl2', shareGroup: 'g2', nl: true } });
    // the static node's error comes at construction (log + status), the dynamic one reaches Catch
    await waitFor(() => caught.length === 1, 5000, 'refusal caught');
    assert.match(caught[0].error.message, /No Local cannot be used with a shared subscription/);
    helper.getNode('bad').refreshStatus();
    await waitStatus(statuses, /^No Local cannot be used with a shared subscription/, 5000);
    inject('out', { payload: 'still up' });
    await waitFor(() => got.length === 1, 5000, 'the connection still delivers');
    assert.ok(!statuses.some((s) => /disconnected/.test(s.status?.text ?? '')), 'never disconnected');
  });

  it('a dynamic mqtt5-in without a usable client reports every input to Catch', async function () {
    await load([
      TAB,
      { id: 'bad', type: 'mqtt5-client', brokerType: 'external', broker: 'http://not-mqtt' },
      { id: 'dyn', type: 'mqtt5-in', z: 'f1', client: 'bad', topic: '', inputs: 1, wires: [[]] },
      ...observers(),
    ]);
    const caught = collect('caught');
    inject('dyn', { action: 'getSubscriptions' });
    await waitFor(() => caught.length === 1, 5000, 'error caught');
    assert.match(caught[0].error.message, /no usable mqtt5-client configured/);
  });

  it('mqtt5-request with an invalid timeout: red status and an error per input, not an instant timeout', async function () {
    await load([
      TAB,
      { id: 'c1', type: 'mqtt5-client', brokerType: 'external', broker: url },
      { id: 'req', type: 'mqtt5-request', z: 'f1', client: 'c1', topic: 'edge/req', timeout: 'soon', wires: [[]] },
      ...observers(),
    ]);
    const caught = collect('caught');
    const statuses = collect('statuses');
    await waitConnected('c1');
    inject('req', { payload: 1 });
    await waitFor(() => caught.length === 1, 5000, 'error caught');
    assert.match(caught[0].error.message, /timeout must be a number of seconds from 0.001 to 86400 \(got "soon"\)/);
    // the connection status does not hide the configuration error
    const from = statuses.length;
    helper.getNode('req').refreshStatus();
    await waitStatus(statuses, /^timeout must be/, 5000, from);
  });

  it('closing a connection after a close message leaves no timer of ours behind', async function () {
    // timers created by src/nodes/shared during close() that are still pending afterwards
    const ours = new Set<number>();
    const hook = asyncHooks.createHook({
      init(id, type) {
        if (type === 'Timeout' && /src[\\/]nodes[\\/]shared/.test(new Error().stack ?? '')) ours.add(id);
      },
      destroy(id) {
        ours.delete(id);
      },
    });
    for (const cfg of [{ broker: url }, { brokerType: 'embedded', embeddedBroker: BROKER_NODE }]) {
      const c = createController({ ...cfg, closeTopic: 'edge/bye', closePayload: 'bye', closeQos: '1' }, {});
      c.register({});
      await waitFor(() => c.connected, 10000, 'connected');
      hook.enable();
      try {
        await c.close();
        await delay(50);
      } finally {
        hook.disable();
      }
      assert.equal(ours.size, 0, `no timer left (${JSON.stringify(cfg)})`);
    }
  });
});
