/**
 * The shared client controller (behind every mqtt5-client) against our broker in-process: identical
 * filters make one broker subscription, QoS raised for a later user, unsubscribed only when the last
 * user leaves, deliveries routed by subscription identifier.
 */
import { strict as assert } from 'node:assert';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { registerBroker, unregisterBroker } from '../../src/nodes/shared/broker-registry';
import { ClientController } from '../../src/nodes/shared/client-controller';
import type { IncomingMessage } from '../../src/nodes/shared/connection';
import { InProcessConnection } from '../../src/nodes/shared/inprocess-connection';
import { delay, freePort, waitFor } from '../helpers/env';

describe('mqtt5 client controller × embedded broker in-process', function () {
  this.timeout(20000);
  let broker: Broker;
  let ctl: ClientController;
  const id = `ctl-broker-${process.pid}`;

  before(async function () {
    broker = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port: await freePort(), host: '127.0.0.1' }] });
    await broker.listen();
    registerBroker(id, broker);
    const conn = new InProcessConnection({
      brokerNodeId: id, protocolVersion: 5, clientId: 'ctl-test', cleanStart: true, sessionExpiryInterval: 0, keepAlive: 60,
      reconnectMinMs: 100, reconnectMaxMs: 500, connectTimeoutMs: 5000,
    });
    ctl = new ClientController(conn, { queueSize: 10, protocolVersion: 5 });
    ctl.register({});
    await waitFor(() => ctl.connected, 5000, 'connected');
  });
  after(async function () {
    await ctl?.close();
    unregisterBroker(id, broker);
    await broker?.close();
  });

  const subsOnBroker = (): Array<{ topicFilter: string; qos: number; subscriptionIdentifier?: number }> =>
    broker.clients().find((c) => c.clientId === 'ctl-test')?.subscriptions ?? [];

  it('identical filters share one subscription (highest QoS); unsubscribed when the last user leaves', async function () {
    const a = {};
    const b = {};
    const gotA: IncomingMessage[] = [];
    const gotB: IncomingMessage[] = [];
    ctl.subscribe(a, { filter: 'dup/#', qos: 0 }, { onMessage: (m) => gotA.push(m) });
    ctl.subscribe(b, { filter: 'dup/#', qos: 2 }, { onMessage: (m) => gotB.push(m) });
    await waitFor(() => subsOnBroker().some((s) => s.topicFilter === 'dup/#' && s.qos === 2), 5000, 'QoS 2 subscription');
    assert.equal(subsOnBroker().filter((s) => s.topicFilter === 'dup/#').length, 1);
    await broker.publish({ topic: 'dup/1', payload: 'x', qos: 1 });
    await waitFor(() => gotA.length === 1 && gotB.length === 1, 5000, 'one delivery each');
    assert.ok(gotA[0]!.properties.subscriptionIdentifier, 'routed by subscription identifier');
    ctl.unsubscribe(a, 'dup/#');
    await delay(100);
    assert.equal(subsOnBroker().filter((s) => s.topicFilter === 'dup/#').length, 1, 'still subscribed for b');
    ctl.unsubscribe(b, 'dup/#');
    await waitFor(() => !subsOnBroker().some((s) => s.topicFilter === 'dup/#'), 5000, 'unsubscribed');
  });

  it('a message is delivered once per user even when several of its filters match', async function () {
    const a = {};
    const got: IncomingMessage[] = [];
    const h = { onMessage: (m: IncomingMessage) => got.push(m) };
    ctl.subscribe(a, { filter: 'multi/#', qos: 1 }, h);
    ctl.subscribe(a, { filter: 'multi/+/x', qos: 1 }, h);
    await waitFor(() => subsOnBroker().filter((s) => s.topicFilter.startsWith('multi/')).length === 2, 5000, 'two subscriptions');
    await broker.publish({ topic: 'multi/a/x', payload: 'once', qos: 1 });
    await waitFor(() => got.length >= 1, 5000, 'delivery');
    await delay(200);
    assert.equal(got.length, 1);
    ctl.deregister(a);
    await waitFor(() => !subsOnBroker().some((s) => s.topicFilter.startsWith('multi/')), 5000, 'deregister unsubscribes');
  });

  it('a node restarted by a redeploy keeps the broker subscription; a filter nobody takes back is unsubscribed shortly after', async function () {
    const a = {};
    const h = { onMessage: () => undefined };
    ctl.subscribe(a, { filter: 'keep/#', qos: 1 }, h);
    ctl.subscribe(a, { filter: 'gone/#', qos: 1 }, h);
    await waitFor(() => subsOnBroker().filter((s) => /^(keep|gone)\//.test(s.topicFilter)).length === 2, 5000, 'subscribed');
    ctl.deregister(a, false); // node closed by a redeploy, not removed
    const b = {};
    ctl.subscribe(b, { filter: 'keep/#', qos: 1 }, h); // the restarted node takes keep/# back
    await waitFor(() => !subsOnBroker().some((s) => s.topicFilter === 'gone/#'), 5000, 'gone/# unsubscribed after the grace period');
    assert.ok(subsOnBroker().some((s) => s.topicFilter === 'keep/#'), 'keep/# still subscribed');
    ctl.deregister(b);
  });
});
