/**
 * The shipped examples (examples/mqtt5-*.json) run in real Node-RED with the real mqtt5-broker node
 * (clients connect to it in-process) and do what their comments say. Debug nodes are swapped for
 * helper nodes so the test can read what reaches them.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the BUILT CommonJS node files are loaded as Node-RED loads them */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mqtt from 'mqtt';
import { createBroker } from '../../src/broker';
import type { Broker } from '../../src/broker/types';
import { delay, freePort, ROOT, waitFor } from '../helpers/env';
import { collect, connectClient, endClient, helper, NODES, subscribe, useHelper, waitConnected } from './mqtt5-harness';

const core = (p: string): unknown => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', p));
const ALL = [
  ...NODES,
  require(path.join(ROOT, 'nodes', 'mqtt5-broker.js')),
  core('common/20-inject.js'),
  core('common/90-comment.js'),
  core('function/15-change.js'),
  core('sequence/17-split.js'),
];

function example(name: string): any[] {
  const flow = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', `${name}.json`), 'utf8')) as any[];
  for (const n of flow) if (n.type === 'debug') n.type = 'helper';
  return flow;
}
const byName = (flow: any[], type: string, name: string): any => {
  const n = flow.find((x) => x.type === type && x.name === name);
  if (!n) throw new Error(`no ${type} "${name}"`);
  return n;
};
const clientIds = (flow: any[]): string[] => flow.filter((n) => n.type === 'mqtt5-client').map((n) => n.id);

describe('mqtt5 examples run with the mqtt5-broker node (in-process clients)', function () {
  this.timeout(30000);
  useHelper();

  it('mqtt5-user-properties: node and msg user properties are merged, msg wins, repeated keys are arrays', async function () {
    const flow = example('mqtt5-user-properties');
    await helper.load(ALL, flow);
    await waitConnected(...clientIds(flow));
    await delay(200);
    const got = collect(byName(flow, 'helper', 'msg.userProperties').id);
    helper.getNode(byName(flow, 'inject', 'reading with msg.userProperties').id).receive({});
    await waitFor(() => got.length === 1, 10000, 'message');
    assert.deepEqual(got[0].userProperties, { site: 'plant-1', line: 'B', tag: ['x', 'y'], batch: ['b1', 'b2'] });
    assert.deepEqual(got[0].payload, { temperature: 21.5 });
    assert.equal(got[0].contentType, 'application/json');
  });

  it('mqtt5-shared-subscription-worker-pool: each job reaches exactly one of the two workers', async function () {
    const flow = example('mqtt5-shared-subscription-worker-pool');
    await helper.load(ALL, flow);
    await waitConnected(...clientIds(flow));
    await delay(300);
    const w1 = collect(byName(flow, 'helper', 'worker 1').id);
    const w2 = collect(byName(flow, 'helper', 'worker 2').id);
    helper.getNode(byName(flow, 'inject', '10 jobs').id).receive({});
    await waitFor(() => w1.length + w2.length >= 10, 10000, 'jobs');
    await delay(300);
    const all = [...w1, ...w2].map((m) => m.payload).sort((a, b) => a - b);
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(w1.length > 0 && w2.length > 0, `both workers used (${w1.length}/${w2.length})`);
  });

  it('mqtt5-request-response: the responder answers the request (2 + 3 = 5)', async function () {
    const flow = example('mqtt5-request-response');
    await helper.load(ALL, flow);
    await waitConnected(...clientIds(flow));
    await delay(300);
    const replies = collect(byName(flow, 'helper', 'reply').id);
    helper.getNode(byName(flow, 'inject', 'request {a:2, b:3}').id).receive({});
    await waitFor(() => replies.length === 1, 10000, 'reply');
    assert.equal(replies[0].payload, 5);
    assert.deepEqual(replies[0].response.userProperties, { service: 'add' });
  });

  describe('mqtt5-bridge-local-to-external', function () {
    let external: Broker;
    let sub: mqtt.MqttClient | undefined;
    let url: string;
    before(async function () {
      const port = await freePort();
      external = createBroker({ sysInterval: 0, listeners: [{ type: 'tcp', port, host: '127.0.0.1' }] });
      await external.listen();
      url = `mqtt://127.0.0.1:${port}`;
    });
    after(async function () {
      await endClient(sub);
      await external?.close();
    });

    it('forwards local site/# to the external broker under plant1/ with properties; birth message retained', async function () {
      const flow = example('mqtt5-bridge-local-to-external');
      byName(flow, 'mqtt5-client', 'external broker').broker = url;
      sub = await connectClient(url);
      const got: Array<{ topic: string; payload: string; packet: mqtt.IPublishPacket }> = [];
      sub.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
      await subscribe(sub, 'plant1/#');
      await helper.load(ALL, flow);
      await waitConnected(...clientIds(flow));
      await delay(300);
      helper.getNode(byName(flow, 'inject', 'local reading').id).receive({});
      await waitFor(() => got.some((m) => m.topic === 'plant1/site/line1/temperature'), 10000, 'bridged message');
      const m = got.find((x) => x.topic === 'plant1/site/line1/temperature')!;
      assert.equal(m.payload, '21.5');
      assert.equal(m.packet.properties?.contentType, 'text/plain');
      assert.deepEqual({ ...m.packet.properties?.userProperties }, { unit: 'C' });
      const birth = got.find((x) => x.topic === 'plant1/bridge/status');
      assert.equal(birth?.payload, 'online');
    });
  });
});
